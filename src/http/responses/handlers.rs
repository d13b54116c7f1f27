//! HTTP handlers of the Responses API. Thin: parse, authenticate, call the
//! engine or the store, answer JSON or SSE.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::access::project::Project;
use crate::coordination::Work;
use crate::engine;
use crate::engine::state::AppState;
use crate::http::extract::JsonBody;
use crate::store::responses::InputItemsPage;
use crate::stream::sse::{joined, response_event_frame};
use crate::stream::ResponseStreamEvent;
use crate::wire::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::wire::query::QueryParams;

use super::reply::json_response;
use crate::http::event_stream::sse_frames;
use crate::wire::responses::object::{response_not_found, DeletedResponse, ResponseObject};
use crate::wire::responses::request::CreateResponseRequest;

/// Creates a model response (JSON, or an SSE stream with `stream: true`).
#[utoipa::path(
    post, path = "/v1/responses", tag = "Responses",
    request_body = CreateResponseRequest,
    responses(
        (status = 200, description = "The response (JSON), or its events (`text/event-stream`) when `stream` is true", body = ResponseObject),
        (status = 400, description = "Invalid request, or a model no backend serves (`param: model`, `code: model_not_found`)", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong API key", body = ErrorEnvelope),
        (status = 404, description = "The `conversation` does not exist", body = ErrorEnvelope),
        (status = 502, description = "The backend failed before the first token", body = ErrorEnvelope),
        (status = 503, description = "The backend is unreachable", body = ErrorEnvelope),
        (status = 504, description = "The backend timed out", body = ErrorEnvelope),
    )
)]
pub async fn create_response(
    State(state): State<AppState>,
    project: Project,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let request = CreateResponseRequest::parse(body)?;
    let stream = request.stream.unwrap_or(false);
    let background = request.background.unwrap_or(false);
    let prepared = engine::prepare(&state, &project.0, request).await?;
    if background {
        let queued = engine::enqueue(&state, prepared).await?;
        if stream {
            // Whichever process's worker claims it, from its first event.
            let frames =
                super::lifecycle::replay(&state, &project.0, &queued.id, "queued", None).await?;
            return Ok(sse_frames(frames));
        }
        return Ok(json_response(serde_json::to_string(&queued)?));
    }
    let (events, outcome) = engine::start(&state, prepared).await?;
    let mut answer = if stream {
        sse_response(events)
    } else {
        let response = wait_for_terminal(events).await?;
        if crate::engine::failures::is_unsaved(&response) {
            return Err(ApiError::Unavailable {
                message: crate::engine::failures::UNSAVED_MESSAGE.into(),
            });
        }
        json_response(serde_json::to_string(&response)?)
    };
    outcome.mark(&mut answer);
    Ok(answer)
}

/// Drains events until the terminal one and returns its response.
async fn wait_for_terminal(
    mut events: mpsc::Receiver<Box<ResponseStreamEvent>>,
) -> ApiResult<ResponseObject> {
    while let Some(event) = events.recv().await {
        match *event {
            ResponseStreamEvent::Completed { response, .. }
            | ResponseStreamEvent::Incomplete { response, .. }
            | ResponseStreamEvent::Failed { response, .. } => return Ok(*response),
            _ => {}
        }
    }
    Err(ApiError::Internal(
        "the response ended without a terminal event".into(),
    ))
}

/// An SSE answer that frames every event as it arrives. Events already
/// waiting when one arrives leave with it, in one body chunk: a response
/// opens with four events (created, in progress, item and part added) that
/// would otherwise be four writes to the socket before the first token.
fn sse_response(mut events: mpsc::Receiver<Box<ResponseStreamEvent>>) -> Response {
    sse_frames(async_stream::stream! {
        while let Some(event) = events.recv().await {
            let mut frames = vec![response_event_frame(&event)];
            while let Ok(next) = events.try_recv() {
                frames.push(response_event_frame(&next));
            }
            if let Some(chunk) = joined(frames) {
                yield chunk;
            }
        }
    })
}

/// Retrieves a stored response.
#[utoipa::path(
    get, path = "/v1/responses/{response_id}", tag = "Responses",
    params(
        ("response_id" = String, Path, description = "The response's id"),
        ("stream" = Option<bool>, Query, description = "Stream the response's events (background responses only)"),
        ("starting_after" = Option<u64>, Query, description = "With stream: resume after this sequence number"),
    ),
    responses(
        (status = 200, description = "The response", body = ResponseObject),
        (status = 400, description = "Streaming a response not created with background=true", body = ErrorEnvelope),
        (status = 404, description = "No such response in this project", body = ErrorEnvelope),
    )
)]
pub async fn get_response(
    State(state): State<AppState>,
    project: Project,
    Path(response_id): Path<String>,
    query: QueryParams,
) -> ApiResult<Response> {
    let stream = query.boolean("stream")?;
    let after = query.unsigned("starting_after")?;
    crate::wire::conversations::request::validate_include(&query)?;
    let stored = state
        .store
        .responses
        .get_response(&project.0, &response_id)
        .await?
        .ok_or_else(|| response_not_found(&response_id))?;
    if stream == Some(true) {
        if !stored.background {
            return Err(ApiError::invalid_with_code(
                "This response cannot be streamed because it was not created with background=true.",
                Some("stream".to_owned()),
                "invalid_request_error",
            ));
        }
        let frames =
            super::lifecycle::replay(&state, &project.0, &response_id, &stored.status, after)
                .await?;
        return Ok(sse_frames(frames));
    }
    if let Some(snapshot) = state
        .coordinator
        .find_live(Work::Response(&response_id))
        .and_then(|live| live.snapshot())
    {
        return Ok(json_response(serde_json::to_string(&snapshot)?));
    }
    Ok(json_response(stored.body))
}

/// Deletes a stored response.
#[utoipa::path(
    delete, path = "/v1/responses/{response_id}", tag = "Responses",
    params(("response_id" = String, Path, description = "The response's id")),
    responses(
        (status = 200, description = "Deleted", body = DeletedResponse),
        (status = 404, description = "No such response in this project", body = ErrorEnvelope),
    )
)]
pub async fn delete_response(
    State(state): State<AppState>,
    project: Project,
    Path(response_id): Path<String>,
) -> ApiResult<Response> {
    if !state
        .store
        .responses
        .delete_response(&project.0, &response_id)
        .await?
    {
        return Err(response_not_found(&response_id));
    }
    Ok(axum::Json(DeletedResponse {
        id: response_id,
        object: "response.deleted".into(),
        deleted: true,
    })
    .into_response())
}

/// Lists a response's input items (newest first by default).
#[utoipa::path(
    get, path = "/v1/responses/{response_id}/input_items", tag = "Responses",
    params(
        ("response_id" = String, Path, description = "The response's id"),
        ("after" = Option<String>, Query, description = "An item id to list after"),
        ("limit" = Option<u32>, Query, description = "1 to 100, default 20"),
        ("order" = Option<String>, Query, description = "`asc` or `desc` (default)"),
    ),
    responses(
        (status = 200, description = "A page of input items", body = Object),
        (status = 400, description = "Invalid query", body = ErrorEnvelope),
        (status = 404, description = "No such response in this project", body = ErrorEnvelope),
    )
)]
pub async fn list_input_items(
    State(state): State<AppState>,
    project: Project,
    Path(response_id): Path<String>,
    query: QueryParams,
) -> ApiResult<Response> {
    let limit = query.limit()?;
    let descending = query.descending(true)?;
    crate::wire::conversations::request::validate_include(&query)?;
    let stored = state
        .store
        .responses
        .get_response(&project.0, &response_id)
        .await?
        .ok_or_else(|| response_not_found(&response_id))?;
    let previous_response_id = serde_json::from_str::<Value>(&stored.body)?
        .get("previous_response_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let page = state
        .store
        .responses
        .list_input_items(InputItemsPage {
            project: &project.0,
            response_id: &response_id,
            previous_response_id: previous_response_id.as_deref(),
            after: query.get("after"),
            limit,
            descending,
        })
        .await?;
    let first_id = page
        .items
        .first()
        .and_then(|item| item.get("id"))
        .cloned()
        .unwrap_or(Value::Null);
    let last_id = page
        .items
        .last()
        .and_then(|item| item.get("id"))
        .cloned()
        .unwrap_or(Value::Null);
    Ok(axum::Json(json!({
        "object": "list",
        "data": page.items,
        "first_id": first_id,
        "has_more": page.has_more,
        "last_id": last_id,
    }))
    .into_response())
}
