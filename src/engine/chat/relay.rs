//! The passthrough answer: what an HTTP backend answered to a forwarded Chat
//! Completions request, normalized (see `normalize`) on its way to the client.
//!
//! * An event stream goes through a pull-based pipeline — upstream bytes →
//!   [`SseDecoder`] → [`ChunkPipeline`] (normalized, a role-only first chunk
//!   held one chunk, recorded for `store: true`) → frames — with nothing queued
//!   in between: the backend is read only when the client has taken the previous
//!   frame, so memory stays bounded, and a client that leaves drops the backend
//!   request with it. JSON chunks are normalized; `[DONE]`, comments, non-JSON
//!   data and `{"error":…}` chunks pass through as they are. `[DONE]` ends the
//!   stream (one is added when the backend closes without it, unless it sent an
//!   error chunk); a broken upstream ends it with OpenAI's mid-stream error chunk
//!   and no `[DONE]`.
//! * A JSON answer is normalized; when the client asked for a stream and the
//!   backend ignored `stream`, the completion is sent as chunks instead.
//! * A completion to be stored is stored before the client gets its end (the
//!   JSON body, or `[DONE]`); a stream that failed is not stored.

use std::convert::Infallible;
use std::fmt::Display;

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::{json, Map, Value};

use crate::backends::error::BackendError;
use crate::backends::fallback::BodyLimits;
use crate::engine::chat::pipeline::ChunkPipeline;
use crate::engine::chat::stored::Recorder;
use crate::engine::failures::stream_error_chunk;
use crate::engine::{backend_error, Endpoint, FailedCall};
use crate::stream::chat::normalize::{normalize_completion, ChunkNormalizer};
use crate::stream::chat::sse_lines::{comment_frame, SseDecoder, SseEvent, SseItem};
use crate::stream::errors::{chat_error_frame, server_error};
use crate::stream::sse::{data_frame, joined, DONE_FRAME};
use crate::wire::chat::legacy_functions::completion_to_legacy;
use crate::wire::error::ApiResult;

/// What the client asked for, as far as the answer's shape is concerned.
#[derive(Debug, Clone, Copy)]
pub struct ClientAsked<'a> {
    /// The backend's configured name, for errors and logs.
    pub backend: &'a str,
    /// The requested model (fills a missing `model`).
    pub model: &'a str,
    /// `stream: true`.
    pub stream: bool,
    /// `stream_options.include_usage: true`.
    pub include_usage: bool,
    /// Not `stream_options.include_obfuscation: false`.
    pub obfuscate: bool,
    /// The request used legacy `functions` (answer with `function_call`).
    pub legacy_functions: bool,
    /// The answer is shared with other requests (give it its own id).
    pub fresh_id: bool,
}

/// A backend's successful answer to a forwarded body: whether it is an event
/// stream, and its bytes as they come (from the backend, or shared by the cache).
pub struct UpstreamAnswer {
    pub event_stream: bool,
    pub body: futures::stream::BoxStream<'static, Result<Bytes, String>>,
}

impl UpstreamAnswer {
    /// The answer of a forwarded request, read within `limits`.
    pub fn from_response(answer: reqwest::Response, limits: BodyLimits) -> Self {
        let event_stream = answer
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.contains("text/event-stream"));
        let body = answer
            .bytes_stream()
            .map(|piece| piece.map_err(|error| error.to_string()));
        Self {
            event_stream,
            body: Box::pin(within(body, limits)),
        }
    }
}

/// `body`, ended with an error when its first piece or its end does not come
/// in time (a backend that sent its headers and then hung).
fn within<S>(body: S, limits: BodyLimits) -> impl Stream<Item = Result<Bytes, String>> + Send
where
    S: Stream<Item = Result<Bytes, String>> + Send + 'static,
{
    async_stream::stream! {
        let mut body = Box::pin(body);
        let first_deadline = (tokio::time::Instant::now() + limits.first_piece).min(limits.deadline);
        let mut first = true;
        loop {
            let until = if first { first_deadline } else { limits.deadline };
            match tokio::time::timeout_at(until, body.next()).await {
                Ok(Some(piece)) => {
                    first = false;
                    let failed = piece.is_err();
                    yield piece;
                    if failed {
                        break;
                    }
                }
                Ok(None) => break,
                Err(_) if first && until == first_deadline && until < limits.deadline => {
                    yield Err(format!("no first token within {:?}", limits.first_piece));
                    break;
                }
                Err(_) => {
                    yield Err("the answer took longer than the total timeout".to_owned());
                    break;
                }
            }
        }
    }
}

/// The prompt's token count, for a usage chunk the backend did not send:
/// worked out only when it is needed.
pub type PromptTokens = futures::future::BoxFuture<'static, u64>;

/// The client's answer for a successful upstream answer; `recorder` stores it.
pub async fn relay(
    answer: UpstreamAnswer,
    asked: ClientAsked<'_>,
    recorder: Option<Recorder>,
    call: crate::metrics::backend_call::BackendCall,
    prompt_tokens: PromptTokens,
) -> ApiResult<Response> {
    let is_stream = answer.event_stream;
    let mut normalizer =
        ChunkNormalizer::new(asked.model, asked.include_usage).with_obfuscation(asked.obfuscate);
    // A shared or replayed answer gets its own id, as a stored one does.
    let own_id = match &recorder {
        Some(recorder) => Some(recorder.id().to_owned()),
        None => asked
            .fresh_id
            .then(|| crate::wire::ids::new_id("chatcmpl-")),
    };
    if let Some(id) = &own_id {
        normalizer = normalizer.with_id(id);
    }
    if is_stream {
        let backend = asked.backend.to_owned();
        let pipeline =
            ChunkPipeline::new(normalizer, recorder).with_legacy_functions(asked.legacy_functions);
        let pipeline = pipeline.with_backend_call(call.clone());
        let tokens = pipeline.tokens();
        let mut response = sse_response(normalized_stream(
            call.observe_bytes(answer.body),
            pipeline,
            (backend, asked.model.to_owned()),
            prompt_tokens,
        ));
        response.extensions_mut().insert(tokens);
        return Ok(response);
    }
    let failed = |detail: String| {
        backend_error(
            FailedCall::new(Endpoint::ChatCompletions, asked.model, asked.backend),
            call.failed(BackendError::Stream(detail)),
        )
    };
    let mut bytes = Vec::new();
    let mut body = answer.body;
    while let Some(piece) = body.next().await {
        bytes.extend_from_slice(&piece.map_err(failed)?);
    }
    call.answered();
    let body: Value =
        serde_json::from_slice(&bytes).map_err(|_| failed("its answer is not JSON".to_owned()))?;
    if let Some(error) = body.get("error").filter(|error| !error.is_null()) {
        let error = BackendError::from_stream_error("/chat/completions", error);
        return Err(backend_error(
            FailedCall::new(Endpoint::ChatCompletions, asked.model, asked.backend),
            call.failed(error),
        ));
    }
    call.usage_json(body.get("usage"));
    call.succeeded();
    let mut completion = normalize_completion(body, asked.model);
    if let (Some(id), Some(object)) = (&own_id, completion.as_object_mut()) {
        object.insert("id".to_owned(), Value::String(id.clone()));
    }
    if asked.legacy_functions {
        completion_to_legacy(&mut completion);
    }
    if let Some(recorder) = &recorder {
        recorder.save(&mut completion).await?;
    }
    if !asked.stream {
        return Ok(crate::access::meter::metered_json(completion));
    }
    let chunks = completion_as_chunks(completion, normalizer, asked.include_usage);
    let mut frames: Vec<Result<Bytes, Infallible>> =
        chunks.iter().map(|chunk| Ok(data_frame(chunk))).collect();
    frames.push(Ok(Bytes::from_static(DONE_FRAME.as_bytes())));
    Ok(sse_response(futures::stream::iter(frames)))
}

/// A `text/event-stream` response over `frames`.
pub fn sse_response<S>(frames: S) -> Response
where
    S: Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
{
    let mut response = Body::from_stream(frames).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    response
}

/// OpenAI's mid-stream error chunk, framed.
pub fn mid_stream_error(message: &str) -> Bytes {
    chat_error_frame(&server_error(message))
}

/// The backend's SSE bytes, normalized frame by frame (see the module doc),
/// with a usage chunk counted from `prompt_tokens` and the chunks when the
/// client asked for usage and the backend sent none.
pub fn normalized_stream<S, B, E>(
    upstream: S,
    mut pipeline: ChunkPipeline,
    (backend, model): (String, String),
    prompt_tokens: PromptTokens,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send
where
    S: Stream<Item = Result<B, E>> + Send + 'static,
    B: AsRef<[u8]> + Send,
    E: Display + Send,
{
    async_stream::stream! {
        let mut upstream = Box::pin(upstream);
        let mut decoder = SseDecoder::default();
        loop {
            let (items, ended) = match upstream.next().await {
                Some(Ok(bytes)) => (decoder.feed(bytes.as_ref()), false),
                Some(Err(error)) => {
                    tracing::warn!(backend, %error, "the backend's chat stream broke off");
                    pipeline.fail();
                    for frame in pipeline.flush() {
                        yield Ok(frame);
                    }
                    yield Ok(mid_stream_error(&format!("The backend '{backend}' failed mid-stream: {error}")));
                    return;
                }
                None => (decoder.finish(), true),
            };
            let call = FailedCall::new(Endpoint::ChatCompletions, &model, &backend);
            let (frames, done) = relay_items(items, &mut pipeline, call);
            // The frames of one upstream read leave in one write.
            if let Some(chunk) = joined(frames) {
                yield Ok(chunk);
            }
            if done.is_some() || ended {
                let mut frames = pipeline.flush();
                if pipeline.needs_usage() {
                    frames.extend(pipeline.usage_chunk(prompt_tokens.await));
                }
                if let Some(chunk) = joined(frames) {
                    yield Ok(chunk);
                }
                pipeline.finish().await;
                // A stream that carried an error chunk ends without `[DONE]`
                // unless the backend sent one.
                match done {
                    Some(frame) => yield Ok(frame),
                    None if !pipeline.failed() => yield Ok(Bytes::from_static(DONE_FRAME.as_bytes())),
                    None => {}
                }
                return;
            }
        }
    }
}

fn is_done(event: &SseEvent) -> bool {
    event.data.trim() == "[DONE]"
}

/// The frames for decoded items, up to a `[DONE]`, whose own frame is returned
/// apart (the caller stores the completion before sending it).
///
/// A backend's error chunk is translated into OpenAI's words (see
/// `engine::failures`): its internals never reach the client.
fn relay_items(
    items: Vec<SseItem>,
    pipeline: &mut ChunkPipeline,
    call: FailedCall<'_>,
) -> (Vec<Bytes>, Option<Bytes>) {
    let mut frames = Vec::with_capacity(items.len());
    for item in items {
        let event = match item {
            SseItem::Comment(text) => {
                frames.push(comment_frame(&text));
                continue;
            }
            SseItem::Event(event) => event,
        };
        if is_done(&event) {
            return (frames, Some(event.frame_with(&event.data)));
        }
        // Carries nothing, and an empty `data:` is not JSON for the SDKs.
        if event.data.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&event.data) {
            Ok(chunk) => {
                let chunk = match chunk.get("error").filter(|error| !error.is_null()) {
                    Some(error) => stream_error_chunk(
                        call,
                        BackendError::from_stream_error("/chat/completions", error),
                    ),
                    None => chunk,
                };
                frames.extend(pipeline.chunk(event, chunk));
            }
            Err(_) => {
                frames.extend(pipeline.flush());
                frames.push(event.frame_with(&event.data));
            }
        }
    }
    (frames, None)
}

/// A normalized completion as the chunks OpenAI would have streamed: per
/// choice, its whole message as one delta and then its finish; with
/// `include_usage`, the usage chunk last.
fn completion_as_chunks(
    completion: Value,
    mut normalizer: ChunkNormalizer,
    include_usage: bool,
) -> Vec<Value> {
    let Value::Object(mut top) = completion else {
        return Vec::new();
    };
    let choices = match top.remove("choices") {
        Some(Value::Array(choices)) => choices,
        _ => Vec::new(),
    };
    let usage = top.remove("usage");
    top.remove("object");
    let with_choice = |choice: Value| {
        let mut chunk = top.clone();
        chunk.insert("choices".into(), json!([choice]));
        Value::Object(chunk)
    };
    let mut chunks = Vec::new();
    for choice in choices {
        let index = choice.get("index").cloned().unwrap_or(json!(0));
        let mut delta = match choice.get("message") {
            Some(Value::Object(message)) => message.clone(),
            _ => Map::new(),
        };
        if delta
            .get("annotations")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            delta.remove("annotations");
        }
        if let Some(Value::Array(calls)) = delta.get_mut("tool_calls") {
            for (position, call) in calls.iter_mut().enumerate() {
                if let Value::Object(call) = call {
                    call.insert("index".into(), json!(position));
                }
            }
        }
        let logprobs = choice.get("logprobs").cloned().unwrap_or(Value::Null);
        chunks.push(normalizer.normalize(with_choice(
            json!({"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": null}),
        )));
        let finish_reason = choice.get("finish_reason").cloned().unwrap_or(Value::Null);
        chunks.push(normalizer.normalize(with_choice(
            json!({"index": index, "delta": {}, "logprobs": null, "finish_reason": finish_reason}),
        )));
    }
    if let Some(usage) = usage.filter(|_| include_usage) {
        let mut chunk = top.clone();
        chunk.insert("choices".into(), json!([]));
        chunk.insert("usage".into(), usage);
        chunks.push(normalizer.normalize(Value::Object(chunk)));
    }
    chunks
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
