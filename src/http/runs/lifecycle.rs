//! A run's life outside its segments: cancel (`cancelling` → `cancelled`,
//! closing the backend request), submit_tool_outputs (completes the
//! tool_calls step and queues the next segment of the same run), the sweeper
//! that expires runs whose tool outputs did not arrive by `expires_at`, and
//! start-up recovery (interrupted runs fail with a clear `last_error`, queued
//! runs run).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{json, Value};

use crate::access::project::Project;
use crate::coordination::Work;
use crate::engine::state::AppState;
use crate::http::extract::JsonBody;
use crate::store::assistants::{Kind, Placement};
use crate::store::error::StoreResult;
use crate::stream::assistants::RunStreamBuilder;
use crate::wire::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::wire::ids::unix_now;

use super::handlers::existing_run;
use super::reply::run_json;
use crate::engine::runs::run;
use crate::http::event_stream::sse_frames;
use crate::wire::runs::object::{usage_json, RunObject, RunStatus, RunStepObject};
use crate::wire::runs::request::{parse_tool_outputs, SubmitToolOutputsRequest};

/// Cancels a run: a queued or running one moves to `cancelling` and its task
/// ends it `cancelled`; one waiting for tool outputs is cancelled at once.
#[utoipa::path(
    post, path = "/v1/threads/{thread_id}/runs/{run_id}/cancel", tag = "Assistants",
    params(
        ("thread_id" = String, Path, description = "`thread_…`"),
        ("run_id" = String, Path, description = "`run_…`"),
    ),
    responses(
        (status = 200, description = "The run, `cancelling`", body = RunObject),
        (status = 400, description = "The run has already ended", body = ErrorEnvelope),
        (status = 404, description = "No such thread or run", body = ErrorEnvelope),
    )
)]
pub async fn cancel_run(
    State(state): State<AppState>,
    project: Project,
    Path((thread_id, run_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut run = existing_run(&state, &project.0, &thread_id, &run_id).await?;
    let seen = run.status;
    match seen {
        RunStatus::Queued | RunStatus::InProgress => {
            run.status = RunStatus::Cancelling;
            if state
                .store
                .assistants
                .transition(&project.0, &run, &[seen])
                .await?
            {
                state.coordinator.request_cancel(Work::Run(&run_id)).await;
            }
            run_json(&run)
        }
        RunStatus::RequiresAction => {
            let now = unix_now();
            let mut cancelled = run.clone();
            cancelled.status = RunStatus::Cancelled;
            cancelled.cancelled_at = Some(now);
            cancelled.expires_at = None;
            cancelled.required_action = None;
            if state
                .store
                .assistants
                .transition(&project.0, &cancelled, &[seen])
                .await?
            {
                close_tool_step(&state, &project.0, &run, "cancelled", now).await?;
            }
            run.status = RunStatus::Cancelling;
            run_json(&run)
        }
        RunStatus::Cancelling => run_json(&run),
        ended => Err(ApiError::invalid(
            format!("Cannot cancel run with status '{}'.", ended.as_str()),
            None,
        )),
    }
}

/// Marks the open tool_calls step of a run `cancelled` or `expired`.
async fn close_tool_step(
    state: &AppState,
    project: &str,
    run: &RunObject,
    status: &str,
    now: i64,
) -> ApiResult<()> {
    let steps = state.store.assistants.run_steps(project, &run.id).await?;
    if let Some(mut step) = steps
        .into_iter()
        .rev()
        .find(|step| step.status == "in_progress")
    {
        step.status = status.to_owned();
        if status == "expired" {
            step.expired_at = Some(now);
        } else {
            step.cancelled_at = Some(now);
        }
        store_step(state, project, &step).await?;
    }
    Ok(())
}

async fn store_step(state: &AppState, project: &str, step: &RunStepObject) -> ApiResult<()> {
    let placement = Placement {
        thread_id: Some(&step.thread_id),
        run_id: Some(&step.run_id),
        status: Some(&step.status),
        expires_at: None,
    };
    state
        .store
        .assistants
        .upsert(None, project, Kind::Step, &step.id, placement, step)
        .await?;
    Ok(())
}

/// The call ids a run waits for.
fn pending_call_ids(run: &RunObject) -> Vec<String> {
    run.required_action
        .as_ref()
        .and_then(|action| action.pointer("/submit_tool_outputs/tool_calls"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|call| call.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// Submits every tool output at once; the same run continues (JSON `queued`
/// run, or the rest of its events with `stream: true`).
#[utoipa::path(
    post, path = "/v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs", tag = "Assistants",
    params(
        ("thread_id" = String, Path, description = "`thread_…`"),
        ("run_id" = String, Path, description = "`run_…`"),
    ),
    request_body = SubmitToolOutputsRequest,
    responses(
        (status = 200, description = "The queued run, or its events with `stream: true`", body = RunObject),
        (status = 400, description = "The run is not waiting for outputs, or the outputs do not answer every call once", body = ErrorEnvelope),
        (status = 404, description = "No such thread or run", body = ErrorEnvelope),
    )
)]
pub async fn submit_tool_outputs(
    State(state): State<AppState>,
    project: Project,
    Path((thread_id, run_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut run = existing_run(&state, &project.0, &thread_id, &run_id).await?;
    let now = unix_now();
    let expired = run.expires_at.is_some_and(|expires_at| expires_at <= now);
    if run.status != RunStatus::RequiresAction || expired {
        let status = if expired {
            "expired"
        } else {
            run.status.as_str()
        };
        return Err(ApiError::invalid(
            format!("Runs in status \"{status}\" do not accept tool outputs."),
            None,
        ));
    }
    let (outputs, stream) = parse_tool_outputs(body, &pending_call_ids(&run))?;
    let steps = state
        .store
        .assistants
        .run_steps(&project.0, &run_id)
        .await?;
    let Some(mut step) = steps
        .into_iter()
        .rev()
        .find(|step| step.r#type == "tool_calls" && step.status == "in_progress")
    else {
        return Err(ApiError::Internal(format!(
            "run {run_id} waits for outputs without a tool_calls step"
        )));
    };
    if let Some(calls) = step
        .step_details
        .get_mut("tool_calls")
        .and_then(Value::as_array_mut)
    {
        for call in calls {
            let id = call.get("id").and_then(Value::as_str).unwrap_or_default();
            if let Some((_, output)) = outputs.iter().find(|(call_id, _)| call_id == id) {
                call["function"]["output"] = json!(output);
            }
        }
    }
    let job = state.store.assistants.run_job(&run_id).await?;
    step.status = "completed".to_owned();
    step.completed_at = Some(now);
    step.usage = Some(usage_json(job.pending_tool_usage.unwrap_or_default()));
    run.status = RunStatus::Queued;
    run.required_action = None;
    if !state
        .store
        .assistants
        .transition(&project.0, &run, &[RunStatus::RequiresAction])
        .await?
    {
        return Err(ApiError::invalid(
            "Runs in status \"queued\" do not accept tool outputs.",
            None,
        ));
    }
    store_step(&state, &project.0, &step).await?;
    let live = state.coordinator.live(Work::Run(&run_id));
    let builder = RunStreamBuilder::new(run.clone());
    live.publish(
        builder
            .resume(step)
            .iter()
            .map(|event| event.frame())
            .collect(),
        None,
    );
    run::spawn(state.clone(), run_id);
    if stream {
        return Ok(sse_frames(live.follow(None)));
    }
    run_json(&run)
}

/// Resolves what the previous process left (interrupted runs fail, queued
/// runs run) and starts the expiry sweeper.
pub async fn start(state: &AppState) -> StoreResult<()> {
    let queued = state.store.assistants.recover_runs(unix_now()).await?;
    if !queued.is_empty() {
        tracing::info!(queued = queued.len(), "resuming queued Assistants runs");
    }
    for run_id in queued {
        run::spawn(state.clone(), run_id);
    }
    let sweeper = state.clone();
    tokio::spawn(async move {
        let period = Duration::from_millis((sweeper.run_expiry_seconds * 250).clamp(200, 5_000));
        loop {
            tokio::time::sleep(period).await;
            if let Err(error) = expire_due(&sweeper).await {
                tracing::error!(%error, "could not expire runs");
            }
        }
    });
    Ok(())
}

/// Marks runs whose tool outputs did not arrive by `expires_at` as `expired`.
async fn expire_due(state: &AppState) -> ApiResult<()> {
    let now = unix_now();
    for (project, run) in state.store.assistants.due_for_expiry(now).await? {
        let seen = run.status;
        let mut expired = run.clone();
        expired.status = RunStatus::Expired;
        expired.required_action = None;
        if state
            .store
            .assistants
            .transition(&project, &expired, &[seen])
            .await?
        {
            close_tool_step(state, &project, &run, "expired", now).await?;
        }
    }
    Ok(())
}
