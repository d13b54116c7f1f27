//! The mock backend's `POST /v1/chat/completions`: plays the next script and
//! answers in Chat Completions wire format, streamed or as one JSON body. With
//! `n` > 1 every choice is the scripted answer again (streamed one choice after
//! the other, each with its `index`), as a server sampling the same text would.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde_json::Value;

use super::kinds;
use crate::backends::backend::ChatEventStream;
use crate::backends::scripted::{play, Script};
use crate::mock_backend::state::{error_response, Counters, MockState};
use crate::stream::chat::synthesize::{chat_request_from_body, collect_completion, ChunkEncoder};
use crate::stream::sse::{data_frame, text_frame, DONE_FRAME};

/// Records the body, plays the next script and answers as OpenAI would.
pub(super) async fn create_chat_completion(
    State(state): State<MockState>,
    body: Bytes,
) -> Response {
    state.counters.requests.fetch_add(1, Ordering::Relaxed);
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(error) => {
            let message = format!("We could not parse the JSON body of your request: {error}");
            return error_response(StatusCode::BAD_REQUEST, &message);
        }
    };
    state.record_request(&body);
    let request = match chat_request_from_body(&body) {
        Ok(request) => request,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, &message),
    };
    let script = state.scripts.next();
    if let Some(answer) = raw_answer(&script) {
        return answer;
    }
    if let Some((status, refusal)) = kinds::refusal(state.pose.kind, &body) {
        return json_answer(status, refusal);
    }
    if let Some((status, error)) = script.error_answer() {
        let (status, error) =
            state
                .pose
                .dialect
                .word("/v1/chat/completions", status, &error, &request.model);
        return json_answer(status, error);
    }
    let events = match play(script, &request).await {
        Ok(events) => events,
        Err(error) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string()),
    };
    let choices = body
        .get("n")
        .and_then(Value::as_u64)
        .map_or(1, |n| n.clamp(1, 128) as usize);
    if body.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        let include_usage = body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let include_usage = include_usage && kinds::streams_usage(state.pose.kind);
        stream_completion(&state, &request.model, include_usage, choices, events)
    } else {
        complete(&request.model, choices, events).await
    }
}

/// A JSON answer with this status.
pub(super) fn json_answer(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(body)).into_response()
}

/// `chunk` (of choice 0) as a chunk of choice `index`.
fn for_choice(mut chunk: Value, index: usize) -> Value {
    if let Some(Value::Array(choices)) = chunk.get_mut("choices") {
        for choice in choices {
            choice["index"] = Value::from(index);
        }
    }
    chunk
}

/// A script's verbatim answer, if it has one: `raw_chunks` as an SSE stream,
/// else `raw_body` as JSON (see [`Script`]).
pub(super) fn raw_answer(script: &Script) -> Option<Response> {
    if let Some(chunks) = &script.raw_chunks {
        let mut body = String::new();
        for chunk in chunks {
            let data = match chunk {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            body.push_str(&String::from_utf8_lossy(&text_frame(&data)));
        }
        if !script.raw_without_done {
            body.push_str(DONE_FRAME);
        }
        return Some(([(header::CONTENT_TYPE, "text/event-stream")], body).into_response());
    }
    script
        .raw_body
        .as_ref()
        .map(|body| Json(body.clone()).into_response())
}

/// The whole answer as one `chat.completion` (its choice repeated `choices`
/// times); a broken stream is a 500.
async fn complete(model: &str, choices: usize, mut events: ChatEventStream) -> Response {
    let mut collected = Vec::new();
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => collected.push(event),
            Err(error) => {
                return error_response(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string())
            }
        }
    }
    let mut completion = collect_completion(model, &collected);
    if let Some(Value::Array(list)) = completion.get_mut("choices") {
        if let Some(first) = list.first().cloned() {
            *list = (0..choices)
                .map(|index| {
                    let mut choice = first.clone();
                    choice["index"] = Value::from(index);
                    choice
                })
                .collect();
        }
    }
    Json(completion).into_response()
}

/// A `text/event-stream` of chunks ending in `data: [DONE]`. A broken script
/// stream yields an error from the body, which makes hyper abort the connection:
/// the client sees the body end without `[DONE]` and without a finish chunk.
fn stream_completion(
    state: &MockState,
    model: &str,
    include_usage: bool,
    choices: usize,
    mut events: ChatEventStream,
) -> Response {
    let mut encoder = ChunkEncoder::new(model, include_usage);
    let kind = state.pose.kind;
    let mut guard = StreamGuard::new(Arc::clone(&state.counters));
    let frames = async_stream::stream! {
        // Choice 0's chunks, kept to be sent again for the other choices.
        let mut first = encoder.first_chunk();
        if let Some(delta) = kinds::first_delta(kind) {
            first["choices"][0]["delta"] = delta;
        }
        let mut sent = vec![first];
        yield Ok(data_frame(&sent[0]));
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => {
                    for chunk in encoder.encode(&event) {
                        yield Ok(data_frame(&chunk));
                        if choices > 1 {
                            sent.push(chunk);
                        }
                    }
                }
                Err(error) => {
                    guard.failed();
                    // Let hyper flush what was sent so far (headers included):
                    // the failure must reach the client as a stream cut off
                    // after the 200, not as a connection closed before it.
                    tokio::task::yield_now().await;
                    yield Err(std::io::Error::other(error.to_string()));
                    return;
                }
            }
        }
        for index in 1..choices {
            for chunk in &sent {
                yield Ok(data_frame(&for_choice(chunk.clone(), index)));
            }
        }
        if let Some(chunk) = encoder.usage_chunk() {
            yield Ok(data_frame(&chunk));
        }
        yield Ok::<Bytes, std::io::Error>(Bytes::from_static(DONE_FRAME.as_bytes()));
        // Reached only when hyper polls past `[DONE]`, i.e. after it was handed over.
        guard.completed();
    };
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(frames),
    )
        .into_response()
}

/// Counts how a stream ended. Dropped before `completed` or `failed` means the
/// client went away (hyper dropped the body).
struct StreamGuard {
    counters: Arc<Counters>,
    ended: bool,
}

impl StreamGuard {
    fn new(counters: Arc<Counters>) -> Self {
        Self {
            counters,
            ended: false,
        }
    }

    fn completed(&mut self) {
        if !self.ended {
            self.ended = true;
            self.counters
                .completed_streams
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The script broke the stream on purpose: neither completed nor left.
    fn failed(&mut self) {
        self.ended = true;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if !self.ended {
            self.counters
                .disconnected_streams
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}
