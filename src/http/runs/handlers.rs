//! HTTP handlers of runs: create (on a thread, or with a new thread), list,
//! retrieve and modify. A new run is stored `queued` before the answer; its
//! stream (`stream: true`) follows the run's live buffer from the first frame.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use serde_json::{Map, Value};

use crate::access::project::Project;
use crate::coordination::Work;
use crate::engine::state::AppState;
use crate::http::assistants::handlers::existing_assistant;
use crate::http::extract::JsonBody;
use crate::http::threads::lookup::existing_thread;
use crate::store::assistants::Kind;
use crate::store::assistants::{NewRun, RunInsert};
use crate::stream::assistants::RunStreamBuilder;
use crate::wire::assistants::object::normalize_tools;
use crate::wire::assistants::shared::{check_id, check_tool_choice, list_query, CursorList};
use crate::wire::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::wire::ids::{new_id, unix_now};
use crate::wire::query::QueryParams;
use crate::wire::threads::build::{client_message, thread_busy, thread_with_messages};
use crate::wire::threads::object::ThreadObject;
use crate::wire::threads::request::parse_modify;

use super::reply::run_json;
use crate::engine::runs::run;
use crate::http::event_stream::sse_frames;
use crate::wire::runs::object::{run_not_found, RunJob};
use crate::wire::runs::object::{RunObject, RunStatus};
use crate::wire::runs::request::{default_truncation, parse_run, CreateRunRequest, RunRequest};

/// Creates a run on a thread (JSON `queued` run, or its events with `stream: true`).
#[utoipa::path(
    post, path = "/v1/threads/{thread_id}/runs", tag = "Assistants",
    params(
        ("thread_id" = String, Path, description = "`thread_…`"),
        ("include[]" = Option<Vec<String>>, Query, description = "Accepted (no file search results exist)"),
    ),
    request_body = CreateRunRequest,
    responses(
        (status = 200, description = "The queued run, or its events (`text/event-stream`) with `stream: true`", body = RunObject),
        (status = 400, description = "Invalid body, hosted tools, or the thread already has an active run", body = ErrorEnvelope),
        (status = 404, description = "No such thread or assistant, or no backend serves the model", body = ErrorEnvelope),
    )
)]
pub async fn create_run(
    State(state): State<AppState>,
    project: Project,
    Path(thread_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    check_id("thread_id", &thread_id, "thread")?;
    let request = parse_run(body, false)?;
    existing_thread(&state, &project.0, &thread_id).await?;
    if let Some(run_id) = state
        .store
        .assistants
        .active_run(&project.0, &thread_id)
        .await?
    {
        return Err(thread_busy(&thread_id, &run_id));
    }
    start_run(&state, &project.0, thread_id, None, request).await
}

/// Creates a thread and runs it in one request.
#[utoipa::path(
    post, path = "/v1/threads/runs", tag = "Assistants",
    request_body = CreateRunRequest,
    responses(
        (status = 200, description = "The queued run, or its events (`thread.created` first) with `stream: true`", body = RunObject),
        (status = 400, description = "Invalid body, hosted tools or tool resources", body = ErrorEnvelope),
        (status = 404, description = "No such assistant, or no backend serves the model", body = ErrorEnvelope),
    )
)]
pub async fn create_thread_and_run(
    State(state): State<AppState>,
    project: Project,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut request = parse_run(body, true)?;
    let (thread, messages) = thread_with_messages(request.thread.take().unwrap_or_default());
    let thread_id = thread.id.clone();
    start_run(
        &state,
        &project.0,
        thread_id,
        Some((thread, messages)),
        request,
    )
    .await
}

/// Builds, stores and starts a run; answers the queued run or its stream.
async fn start_run(
    state: &AppState,
    project: &str,
    thread_id: String,
    new_thread: Option<(
        ThreadObject,
        Vec<crate::wire::threads::object::MessageObject>,
    )>,
    request: RunRequest,
) -> ApiResult<Response> {
    let RunRequest {
        fields,
        additional_messages,
        ..
    } = request;
    let assistant = existing_assistant(state, project, &fields.assistant_id).await?;
    let model = fields
        .model
        .clone()
        .unwrap_or_else(|| assistant.model.clone());
    if state.backends.resolve(&model).is_none() {
        return Err(ApiError::model_not_found(&model));
    }
    let now = unix_now();
    let run = RunObject {
        id: new_id("run_"),
        object: "thread.run".to_owned(),
        created_at: now,
        assistant_id: assistant.id.clone(),
        thread_id: thread_id.clone(),
        status: RunStatus::Queued,
        started_at: None,
        expires_at: Some(now + state.run_expiry_seconds as i64),
        cancelled_at: None,
        failed_at: None,
        completed_at: None,
        required_action: None,
        last_error: None,
        model,
        instructions: fields
            .instructions
            .clone()
            .or(assistant.instructions.clone()),
        tools: fields
            .tools
            .as_deref()
            .map(normalize_tools)
            .unwrap_or_else(|| assistant.tools.clone()),
        // OpenAI shows the new thread's (empty) code interpreter files on create-thread-and-run runs.
        tool_resources: match &new_thread {
            Some(_) => serde_json::json!({"code_interpreter": {"file_ids": []}}),
            None => Value::Object(Map::new()),
        },
        metadata: fields.metadata.clone().unwrap_or_default(),
        temperature: fields.temperature.or(assistant.temperature),
        top_p: fields.top_p.or(assistant.top_p),
        reasoning_effort: fields
            .reasoning_effort
            .clone()
            .or(assistant.reasoning_effort.clone()),
        max_completion_tokens: fields.max_completion_tokens,
        max_prompt_tokens: fields.max_prompt_tokens,
        truncation_strategy: fields
            .truncation_strategy
            .clone()
            .filter(|value| !value.is_null())
            .map(|mut strategy| {
                // `3.0` is stored (and echoed) as the count it stands for.
                strategy["last_messages"] = strategy
                    .get("last_messages")
                    .and_then(crate::wire::json::whole_number)
                    .map_or(Value::Null, Value::from);
                strategy
            })
            .unwrap_or_else(default_truncation),
        incomplete_details: None,
        usage: None,
        response_format: fields
            .response_format
            .clone()
            .filter(|value| !value.is_null())
            .unwrap_or_else(|| assistant.response_format.clone()),
        tool_choice: fields
            .tool_choice
            .clone()
            .filter(|value| !value.is_null())
            .unwrap_or_else(|| Value::String("auto".to_owned())),
        parallel_tool_calls: fields.parallel_tool_calls.unwrap_or(true),
    };
    check_tool_choice(fields.tool_choice.as_ref(), Some(&run.tools))?;
    let job = RunJob {
        additional_instructions: fields.additional_instructions.clone(),
        key_id: crate::inflight::current_key(),
        ..RunJob::default()
    };
    let (thread, mut messages) = match new_thread {
        Some((thread, messages)) => (Some(thread), messages),
        None => (None, Vec::new()),
    };
    messages.extend(
        additional_messages
            .into_iter()
            .map(|message| client_message(&thread_id, message)),
    );
    let instructed = [&run.instructions, &job.additional_instructions]
        .into_iter()
        .any(|text| text.as_deref().is_some_and(|text| !text.trim().is_empty()));
    let asked = messages.iter().any(|message| message.role == "user")
        || (thread.is_none()
            && state
                .store
                .assistants
                .has_user_message(project, &thread_id)
                .await?);
    if !instructed && !asked {
        return Err(ApiError::invalid_with_code(
            "Run creation requires a Thread with a user message or an assistant with instructions.",
            None,
            "invalid_thread",
        ));
    }
    if let RunInsert::ThreadBusy(active) = state
        .store
        .assistants
        .insert_run(NewRun {
            project,
            run: &run,
            job: &job,
            thread: thread.as_ref(),
            messages: &messages,
        })
        .await?
    {
        return Err(thread_busy(&thread_id, &active));
    }
    // The stream's first frames, published before the task can add its own.
    let live = state.coordinator.live(Work::Run(&run.id));
    let builder = RunStreamBuilder::new(run.clone());
    let mut opening: Vec<_> = thread
        .iter()
        .map(|thread| RunStreamBuilder::thread_created(&thread.as_retrieved()))
        .collect();
    opening.extend(builder.open());
    live.publish(opening.iter().map(|event| event.frame()).collect(), None);
    run::spawn(state.clone(), run.id.clone());
    if fields.stream.unwrap_or(false) {
        return Ok(sse_frames(live.follow(None)));
    }
    run_json(&run)
}

/// The run, or OpenAI's 400 (bad prefix) / 404.
pub async fn existing_run(
    state: &AppState,
    project: &str,
    thread_id: &str,
    run_id: &str,
) -> ApiResult<RunObject> {
    existing_thread(state, project, thread_id).await?;
    check_id("run_id", run_id, "run")?;
    state
        .store
        .assistants
        .get(project, Kind::Run, run_id, Some(thread_id))
        .await?
        .ok_or_else(|| run_not_found(run_id))
}

/// Lists a thread's runs (newest first by default).
#[utoipa::path(
    get, path = "/v1/threads/{thread_id}/runs", tag = "Assistants",
    params(
        ("thread_id" = String, Path, description = "`thread_…`"),
        ("limit" = Option<u32>, Query, description = "1 to 100, default 20"),
        ("order" = Option<String>, Query, description = "`asc` or `desc` (default)"),
        ("after" = Option<String>, Query, description = "A run id to list after"),
        ("before" = Option<String>, Query, description = "A run id to list before"),
    ),
    responses(
        (status = 200, description = "A page of runs", body = CursorList<RunObject>),
        (status = 400, description = "Invalid query", body = ErrorEnvelope),
        (status = 404, description = "No such thread in this project", body = ErrorEnvelope),
    )
)]
pub async fn list_runs(
    State(state): State<AppState>,
    project: Project,
    Path(thread_id): Path<String>,
    query: QueryParams,
) -> ApiResult<Json<CursorList<RunObject>>> {
    let list = list_query(&query)?;
    existing_thread(&state, &project.0, &thread_id).await?;
    let page = state
        .store
        .assistants
        .list(&project.0, Kind::Run, Some(&thread_id), None, &list)
        .await?;
    Ok(Json(page.into()))
}

/// Retrieves a run (what a poller reads; answers `openai-poll-after-ms`).
#[utoipa::path(
    get, path = "/v1/threads/{thread_id}/runs/{run_id}", tag = "Assistants",
    params(
        ("thread_id" = String, Path, description = "`thread_…`"),
        ("run_id" = String, Path, description = "`run_…`"),
    ),
    responses(
        (status = 200, description = "The run", body = RunObject),
        (status = 400, description = "Not a thread or run id", body = ErrorEnvelope),
        (status = 404, description = "No such thread or run", body = ErrorEnvelope),
    )
)]
pub async fn get_run(
    State(state): State<AppState>,
    project: Project,
    Path((thread_id, run_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    run_json(&existing_run(&state, &project.0, &thread_id, &run_id).await?)
}

/// Modifies a run's metadata.
#[utoipa::path(
    post, path = "/v1/threads/{thread_id}/runs/{run_id}", tag = "Assistants",
    params(
        ("thread_id" = String, Path, description = "`thread_…`"),
        ("run_id" = String, Path, description = "`run_…`"),
    ),
    request_body(content = Object, description = "`{metadata}`"),
    responses(
        (status = 200, description = "The modified run", body = RunObject),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
        (status = 404, description = "No such thread or run", body = ErrorEnvelope),
    )
)]
pub async fn modify_run(
    State(state): State<AppState>,
    project: Project,
    Path((thread_id, run_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let metadata = parse_modify(&body, false)?;
    let mut run = existing_run(&state, &project.0, &thread_id, &run_id).await?;
    // As OpenAI answers (recorded): a run being worked on cannot be updated.
    if matches!(
        run.status,
        RunStatus::Queued | RunStatus::InProgress | RunStatus::Cancelling
    ) {
        return Err(ApiError::invalid(
            format!("Cannot update run with status '{}'.", run.status.as_str()),
            None,
        ));
    }
    if let Some(metadata) = metadata {
        run.metadata = metadata.clone();
        state
            .store
            .assistants
            .set_run_metadata(&project.0, &run_id, &metadata)
            .await?;
    }
    run_json(&run)
}
