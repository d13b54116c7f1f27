//! Chat Completions: `POST /v1/chat/completions`. For HTTP backends that speak
//! Chat Completions the body is forwarded unchanged and the answer relayed as it
//! comes, brought to OpenAI's exact shape on the way (`relay`, `normalize`);
//! upstream errors are wrapped in OpenAI's envelope. For in-process backends the
//! answer is synthesized from their chat events by `synthesize`, which goes
//! through the same normalization, so both kinds of backend look the same.

pub mod normalize;
pub mod relay;
pub mod sse_lines;
pub mod synthesize;

use std::convert::Infallible;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures::StreamExt;
use serde_json::Value;

use crate::auth::Project;
use crate::backends::openai_compat::status_error;
use crate::backends::BackendError;
use crate::engine::backend_error;
use crate::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::stream::sse::{data_frame, DONE_FRAME};
use relay::{mid_stream_error, sse_response, ClientAsked};

/// The Chat Completions route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/chat/completions", post(create_chat_completion))
}

/// Creates a chat completion (JSON, or `chat.completion.chunk` SSE ending in `[DONE]`).
#[utoipa::path(
    post, path = "/v1/chat/completions", tag = "Chat",
    request_body(content = Object, description = "OpenAI's CreateChatCompletionRequest"),
    responses(
        (status = 200, description = "A chat.completion, or chat.completion.chunk events when `stream` is true", body = Object),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 404, description = "Unknown model", body = ErrorEnvelope),
        (status = 502, description = "The backend failed", body = ErrorEnvelope),
        (status = 503, description = "The backend is unreachable", body = ErrorEnvelope),
    )
)]
pub async fn create_chat_completion(
    State(state): State<AppState>,
    _project: Project,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let model = required_model(&body)?;
    if !body.get("messages").is_some_and(Value::is_array) {
        return Err(ApiError::invalid_with_code(
            "Missing required parameter: 'messages'.",
            Some("messages".to_owned()),
            "missing_required_parameter",
        ));
    }
    let backend = state
        .backends
        .resolve(&model)
        .ok_or_else(|| ApiError::model_not_found(&model))?;
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = stream
        && body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    if let Some(upstream) = backend.chat_passthrough() {
        let bytes = serde_json::to_vec(&body)?;
        let answer = upstream
            .forward_chat(bytes.into())
            .await
            .map_err(|error| backend_error(backend.name(), error))?;
        if !answer.status().is_success() {
            return Err(upstream_error(backend.name(), status_error(answer).await));
        }
        let asked = ClientAsked {
            backend: backend.name(),
            model: &model,
            stream,
            include_usage,
        };
        return relay::relay(answer, asked).await;
    }
    let request = synthesize::chat_request_from_body(&body)
        .map_err(|message| ApiError::invalid(message, None))?;
    let events = backend
        .stream_chat(request)
        .await
        .map_err(|error| backend_error(backend.name(), error))?;
    if stream {
        Ok(synthesized_stream(model, include_usage, events))
    } else {
        let collected: Vec<_> = events.collect().await;
        let mut chat_events = Vec::with_capacity(collected.len());
        for event in collected {
            chat_events.push(event.map_err(|error| backend_error(backend.name(), error))?);
        }
        Ok(axum::Json(synthesize::collect_completion(&model, &chat_events)).into_response())
    }
}

/// The request's `model`: a string, or OpenAI's 400 naming `model`. Shared by
/// every route that picks a backend by model.
pub fn required_model(body: &Value) -> ApiResult<String> {
    match body.get("model") {
        Some(Value::String(model)) => Ok(model.clone()),
        None | Some(Value::Null) => Err(ApiError::invalid_with_code(
            "Missing required parameter: 'model'.",
            Some("model".to_owned()),
            "missing_required_parameter",
        )),
        Some(_) => Err(ApiError::invalid_with_code(
            "Invalid type for 'model': expected a string.",
            Some("model".to_owned()),
            "invalid_type",
        )),
    }
}

/// An upstream error status in OpenAI's envelope: the backend's own envelope
/// when it sent one, with its status for client errors. Shared by every route
/// that forwards to an OpenAI-compatible backend.
pub fn upstream_error(backend: &str, error: BackendError) -> ApiError {
    if let BackendError::Status {
        status,
        message,
        body: Some(body),
    } = &error
    {
        if (400..500).contains(status) {
            let parsed: Option<Value> = serde_json::from_str(body).ok();
            let field = |name: &str| {
                parsed
                    .as_ref()
                    .and_then(|value| value.pointer(&format!("/error/{name}")))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            return match *status {
                404 => ApiError::NotFound {
                    message: message.clone(),
                    param: field("param"),
                    code: field("code"),
                },
                _ => ApiError::InvalidRequest {
                    message: message.clone(),
                    param: field("param"),
                    code: field("code"),
                },
            };
        }
    }
    backend_error(backend, error)
}

/// SSE of chunks synthesized from a backend's chat events. A failure after the
/// stream has started is sent as OpenAI's mid-stream error chunk.
fn synthesized_stream(
    model: String,
    include_usage: bool,
    mut events: crate::backends::ChatEventStream,
) -> Response {
    let body = async_stream::stream! {
        let mut encoder = synthesize::ChunkEncoder::new(&model, include_usage);
        yield Ok::<_, Infallible>(data_frame(&encoder.first_chunk()));
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => {
                    for chunk in encoder.encode(&event) {
                        yield Ok(data_frame(&chunk));
                    }
                }
                Err(error) => {
                    yield Ok(mid_stream_error(&error.to_string()));
                    return;
                }
            }
        }
        if let Some(chunk) = encoder.usage_chunk() {
            yield Ok(data_frame(&chunk));
        }
        yield Ok(bytes::Bytes::from_static(DONE_FRAME.as_bytes()));
    };
    sse_response(body)
}
