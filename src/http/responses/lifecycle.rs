//! The lifecycle of background responses over HTTP: following or resuming
//! their event stream (`GET /v1/responses/{id}?stream=true&starting_after=N`)
//! and cancelling them (`POST /v1/responses/{id}/cancel`).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::Response;
use bytes::Bytes;

use crate::access::project::Project;
use crate::coordination::Work;
use crate::engine::state::AppState;
use crate::wire::error::{ApiError, ApiResult, ErrorEnvelope};

use super::reply::json_response;
use crate::wire::responses::object::response_not_found;
use crate::wire::responses::object::{ResponseObject, ResponseStatus};

use crate::coordination::live::Frames;

/// The frames of a background response after `after`: followed live while it
/// runs in this process, followed wherever else it runs or waits (the queue,
/// another process), replayed from the event log once it has ended. Either
/// way the bytes are the ones first sent.
pub async fn replay(
    state: &AppState,
    project: &str,
    response_id: &str,
    status: &str,
    after: Option<u64>,
) -> ApiResult<Frames> {
    if let Some(live) = state.coordinator.find_live(Work::Response(response_id)) {
        return Ok(Box::pin(live.follow(after)));
    }
    if let Some(frames) = state
        .coordinator
        .follow_elsewhere(response_id, project, status, after)
    {
        return Ok(frames);
    }
    let frames = state
        .store
        .responses
        .events_after(response_id, after)
        .await?;
    Ok(Box::pin(futures::stream::iter(
        frames.into_iter().map(|(_, frame)| Bytes::from(frame)),
    )))
}

/// How long a cancel waits for the running response to end.
const CANCEL_WAIT: Duration = Duration::from_secs(10);

/// Waits until a response that runs elsewhere has a final stored status.
async fn ended_elsewhere(state: &AppState, project: &str, response_id: &str) -> ApiResult<()> {
    let started = tokio::time::Instant::now();
    while started.elapsed() < CANCEL_WAIT {
        let stored = state
            .store
            .responses
            .get_response(project, response_id)
            .await?;
        if stored.is_none_or(|stored| !matches!(stored.status.as_str(), "queued" | "in_progress")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Cancels a background response: a queued one never runs; a running one has
/// its upstream request closed. Cancelling twice returns the cancelled response.
#[utoipa::path(
    post, path = "/v1/responses/{response_id}/cancel", tag = "Responses",
    params(("response_id" = String, Path, description = "The response's id")),
    responses(
        (status = 200, description = "The cancelled response", body = ResponseObject),
        (status = 400, description = "Not a background response, or already finished", body = ErrorEnvelope),
        (status = 404, description = "No such response in this project", body = ErrorEnvelope),
    )
)]
pub async fn cancel_response(
    State(state): State<AppState>,
    project: Project,
    Path(response_id): Path<String>,
) -> ApiResult<Response> {
    for _ in 0..3 {
        let stored = state
            .store
            .responses
            .get_response(&project.0, &response_id)
            .await?
            .ok_or_else(|| response_not_found(&response_id))?;
        if !stored.background {
            return Err(ApiError::invalid(
                "Only responses created with background=true can be cancelled.",
                None,
            ));
        }
        let mut response: ResponseObject = serde_json::from_str(&stored.body)?;
        // The status column is the truth (a worker may have claimed the job).
        response.status = serde_json::from_value(serde_json::Value::String(stored.status.clone()))?;
        match response.status {
            ResponseStatus::Cancelled => return Ok(json_response(stored.body)),
            ResponseStatus::Completed | ResponseStatus::Failed | ResponseStatus::Incomplete => {
                return Err(ApiError::invalid(
                    format!(
                        "Cannot cancel a response with status '{}'.",
                        response.status.as_str()
                    ),
                    None,
                ))
            }
            ResponseStatus::Queued => {
                response.status = ResponseStatus::Cancelled;
                if state.store.responses.cancel_if_queued(&response).await? {
                    if let Some(live) = state.coordinator.find_live(Work::Response(&response_id)) {
                        live.finish();
                        state.coordinator.forget_live(Work::Response(&response_id));
                    }
                    return Ok(json_response(serde_json::to_string(&response)?));
                }
                // A worker claimed it meanwhile: cancel the running response.
            }
            ResponseStatus::InProgress => {
                if let Some(live) = state.coordinator.find_live(Work::Response(&response_id)) {
                    live.request_cancel();
                    let _ = tokio::time::timeout(CANCEL_WAIT, live.ended()).await;
                    continue;
                }
                match state
                    .coordinator
                    .request_cancel(Work::Response(&response_id))
                    .await
                {
                    // Its owner runs it elsewhere and stops it.
                    true => ended_elsewhere(&state, &project.0, &response_id).await?,
                    // Nobody runs it (its owner stopped): cancelled here.
                    false => {
                        response.status = ResponseStatus::Cancelled;
                        // Not cancelled: it ended meanwhile; read it again.
                        if state
                            .store
                            .responses
                            .cancel_if_unfinished(&response)
                            .await?
                        {
                            return Ok(json_response(serde_json::to_string(&response)?));
                        }
                    }
                }
            }
        }
    }
    let stored = state
        .store
        .responses
        .get_response(&project.0, &response_id)
        .await?
        .ok_or_else(|| response_not_found(&response_id))?;
    Ok(json_response(stored.body))
}
