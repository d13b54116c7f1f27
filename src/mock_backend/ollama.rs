//! The mock backend speaking Ollama's native API: `POST /api/chat` answers the
//! next script as NDJSON lines (text, thinking, whole tool calls with object
//! arguments, then a `done` line with counts), `GET /api/tags` lists `mock`.

use std::convert::Infallible;
use std::sync::atomic::Ordering;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::backends::scripted::play;
use crate::mock_backend::state::{error_response, MockState};
use crate::wire::chat_events::{ChatEvent, ChatRequest, FinishReason};

/// `POST /api/chat`.
pub(super) async fn chat(State(state): State<MockState>, body: Bytes) -> Response {
    state.counters.requests.fetch_add(1, Ordering::Relaxed);
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error_response(StatusCode::BAD_REQUEST, "invalid JSON");
    };
    state.record_request(&body);
    let request = ChatRequest {
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("mock")
            .to_owned(),
        messages: body
            .get("messages")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        ..ChatRequest::default()
    };
    let model = request.model.clone();
    let script = state.scripts.next();
    if let Some((status, body)) = script.error_answer() {
        // Ollama's native errors are a bare string (`{"error": "…"}`).
        let message = body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map_or_else(|| body.to_string(), str::to_owned);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, Json(json!({"error": message}))).into_response();
    }
    let mut events = match play(script, &request).await {
        Ok(events) => events,
        Err(error) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": error.to_string()})),
            )
                .into_response()
        }
    };
    let lines = async_stream::stream! {
        let mut arguments: Vec<(String, String)> = Vec::new();
        let mut finish = FinishReason::Stop;
        let mut counts = (0, 0);
        while let Some(event) = events.next().await {
            let message = match event {
                Ok(ChatEvent::TextDelta(text)) => json!({"role": "assistant", "content": text}),
                Ok(ChatEvent::ReasoningDelta(text)) => json!({"role": "assistant", "content": "", "thinking": text}),
                Ok(ChatEvent::ToolCallStart { name, .. }) => { arguments.push((name, String::new())); continue; }
                Ok(ChatEvent::ToolCallArguments { fragment, .. }) => {
                    if let Some(last) = arguments.last_mut() { last.1.push_str(&fragment); }
                    continue;
                }
                Ok(ChatEvent::Finish(reason)) => { finish = reason; continue; }
                Ok(ChatEvent::Usage(usage)) => { counts = (usage.prompt_tokens, usage.completion_tokens); continue; }
                Ok(ChatEvent::RefusalDelta(text)) => json!({"role": "assistant", "content": text}),
                Err(error) => {
                    yield Ok::<_, Infallible>(Bytes::from(format!("{}\n", json!({"error": error.to_string()}))));
                    return;
                }
            };
            yield Ok(Bytes::from(format!("{}\n", json!({"model": model, "message": message, "done": false}))));
        }
        if !arguments.is_empty() {
            let calls: Vec<Value> = arguments
                .iter()
                .map(|(name, arguments)| json!({"function": {"name": name, "arguments": serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({}))}}))
                .collect();
            yield Ok(Bytes::from(format!("{}\n", json!({"model": model, "message": {"role": "assistant", "content": "", "tool_calls": calls}, "done": false}))));
        }
        let reason = if finish == FinishReason::Length { "length" } else { "stop" };
        let done = json!({"model": model, "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": reason, "prompt_eval_count": counts.0, "eval_count": counts.1});
        yield Ok(Bytes::from(format!("{done}\n")));
    };
    let mut response = Body::from_stream(lines).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/x-ndjson"),
    );
    response
}

/// `GET /api/version`, as Ollama answers it (`server/routes.go#L1880`).
pub(super) async fn version() -> Json<Value> {
    Json(json!({"version": "0.33.0"}))
}

/// `GET /api/tags`.
pub(super) async fn tags(State(state): State<MockState>) -> Json<Value> {
    let models: Vec<Value> = state
        .models()
        .into_iter()
        .map(|name| json!({"name": name, "model": name}))
        .collect();
    Json(json!({"models": models}))
}
