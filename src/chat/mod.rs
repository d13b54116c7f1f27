//! Chat Completions: `POST /v1/chat/completions`. For HTTP backends that speak
//! Chat Completions the body is forwarded unchanged and the answer streamed back
//! as it comes (tool calls untouched); upstream errors are wrapped in OpenAI's
//! envelope. For in-process backends the answer is synthesized from their chat
//! events by `synthesize`.

pub mod synthesize;

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
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
    let model = match body.get("model") {
        Some(Value::String(model)) => model.clone(),
        Some(_) => {
            return Err(ApiError::invalid_with_code(
                "Invalid type for 'model': expected a string.",
                Some("model".to_owned()),
                "invalid_type",
            ))
        }
        None => {
            return Err(ApiError::invalid_with_code(
                "Missing required parameter: 'model'.",
                Some("model".to_owned()),
                "missing_required_parameter",
            ))
        }
    };
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
    if let Some(upstream) = backend.chat_passthrough() {
        let bytes = serde_json::to_vec(&body)?;
        let answer = upstream
            .forward_chat(bytes.into())
            .await
            .map_err(|error| backend_error(backend.name(), error))?;
        if !answer.status().is_success() {
            return Err(upstream_error(backend.name(), status_error(answer).await));
        }
        return Ok(relay(answer));
    }
    let request = synthesize::chat_request_from_body(&body)
        .map_err(|message| ApiError::invalid(message, None))?;
    let events = backend
        .stream_chat(request)
        .await
        .map_err(|error| backend_error(backend.name(), error))?;
    if stream {
        let include_usage = body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false);
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

/// An upstream error status in OpenAI's envelope: the backend's own envelope
/// when it sent one, with its status for client errors.
fn upstream_error(backend: &str, error: BackendError) -> ApiError {
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

/// Streams an upstream answer back unchanged, with its content type.
fn relay(answer: reqwest::Response) -> Response {
    let content_type = answer
        .headers()
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("application/json"));
    let body = Body::from_stream(answer.bytes_stream());
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    response
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
                    let envelope = serde_json::json!({"error": {"message": error.to_string(), "type": "server_error", "param": null, "code": null}});
                    yield Ok(data_frame(&envelope));
                    return;
                }
            }
        }
        if let Some(chunk) = encoder.usage_chunk() {
            yield Ok(data_frame(&chunk));
        }
        yield Ok(bytes::Bytes::from_static(DONE_FRAME.as_bytes()));
    };
    let mut response = Body::from_stream(body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    response
}
