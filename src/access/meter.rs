//! What the gate learns from an answer's body, and how a killed stream ends.
//!
//! * Chat completions, embeddings and compactions are counted here (responses count their
//!   own tokens in `engine`): from `usage` in a JSON body, or in a stream's
//!   usage chunk, before that chunk leaves, so the next request sees the
//!   tokens. A stream without one (the client did not ask for
//!   `include_usage`) is estimated at about four bytes a token, request and
//!   answer text together.
//! * A new run's id (from the run object, or the stream's first run event) is
//!   remembered with the key that created it, for the key's kill switch.
//! * A stream whose project or key is suspended ends with an error event:
//!   Chat Completions' `data: {"error": …}` chunk, or the Responses `error`
//!   event numbered after the last event sent. Chat and embedding streams are
//!   cut at once (dropping the backend request); a response's stream ends when
//!   its task has stopped the response.
//!
//! The in-flight registration lives as long as the body, so a stream counts
//! as in flight until its last byte.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::Value;

use super::limits::Limits;
use super::route::{suspended, Route};
use crate::coordination::Coordinator;
use crate::inflight::{Inflight, Registration, Target};
use crate::stream::errors::{chat_error_frame, ResponseErrorEvent};
use crate::wire::error::ApiError;

/// A served request whose answer is watched.
#[derive(Debug)]
pub struct Watched {
    pub route: Route,
    pub registration: Registration,
    pub limits: Limits,
    pub inflight: Inflight,
    /// Where suspensions are read (the kill switch's error names the target).
    pub coordinator: Arc<dyn Coordinator>,
    pub project: String,
    pub key_id: Option<String>,
    /// The request body's length (for estimates).
    pub request_bytes: u64,
}

impl Watched {
    fn counts_tokens(&self) -> bool {
        matches!(
            self.route,
            Route::Chat | Route::Embeddings | Route::Compaction
        )
    }

    async fn record(&self, tokens: u64) {
        self.limits
            .record(&self.project, self.key_id.as_deref(), tokens)
            .await;
    }

    async fn note_run(&self, run_id: &str) {
        if let Some(key_id) = &self.key_id {
            self.inflight.created(run_id, key_id.clone()).await;
        }
    }

    fn estimate(&self, answer_chars: u64) -> u64 {
        (self.request_bytes + answer_chars).div_ceil(4)
    }

    fn kill_error(&self) -> Value {
        let target = self
            .coordinator
            .suspension(&self.project, self.key_id.as_deref())
            .unwrap_or_else(|| Target::Project(self.project.clone()));
        serde_json::to_value(suspended(&target).body().error).unwrap_or(Value::Null)
    }
}

/// The tokens of a `usage` object (Chat or Responses spelling), if it has any.
fn usage_tokens(usage: Option<&Value>) -> Option<u64> {
    let usage = usage.filter(|usage| usage.is_object())?;
    let number = |name: &str| usage.get(name).and_then(Value::as_u64);
    let total = number("total_tokens").unwrap_or_else(|| {
        [
            "prompt_tokens",
            "completion_tokens",
            "input_tokens",
            "output_tokens",
        ]
        .iter()
        .filter_map(|name| number(name))
        .sum()
    });
    (total > 0).then_some(total)
}

/// The visible text length of a chat chunk or completion.
fn answer_chars(value: &Value) -> u64 {
    let Some(choices) = value.get("choices").and_then(Value::as_array) else {
        return 0;
    };
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map_or(0, str::len) as u64;
    choices
        .iter()
        .map(|choice| {
            let part = choice.get("delta").or_else(|| choice.get("message"));
            let calls: u64 = part
                .and_then(|part| part.get("tool_calls"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|call| text(call.pointer("/function/arguments")))
                .sum();
            text(part.and_then(|part| part.get("content"))) + calls
        })
        .sum()
}

/// What a JSON answer counts for, found by the handler that built it from a
/// `Value` and attached to the response, so that the meter does not read the
/// body back and parse it again (measured: 5 % of a chat pass-through's CPU).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnswerTokens {
    usage: Option<u64>,
    answer_chars: u64,
}

impl AnswerTokens {
    /// The tokens of a chat completion or embeddings answer.
    pub fn of(answer: &Value) -> Self {
        Self {
            usage: usage_tokens(answer.get("usage")),
            answer_chars: answer_chars(answer),
        }
    }

    /// What the answer counts for: its usage, else the estimate.
    fn tokens(&self, watched: &Watched) -> u64 {
        self.usage
            .unwrap_or_else(|| watched.estimate(self.answer_chars))
    }
}

/// `answer` as a JSON response carrying its [`AnswerTokens`].
pub fn metered_json(answer: Value) -> Response {
    let tokens = AnswerTokens::of(&answer);
    let mut response = axum::Json(answer).into_response();
    response.extensions_mut().insert(tokens);
    response
}

/// The tokens of a chat stream, counted by the handler's chunk pipeline as
/// chunks pass (it parses each one anyway) and attached to the streamed
/// response (an `Arc<StreamTokens>` extension), so that the meter does not
/// parse every chunk a second time.
#[derive(Debug, Default)]
pub struct StreamTokens {
    /// The `usage` tokens of the chunk that had them; 0 until then.
    usage: AtomicU64,
    answer_chars: AtomicU64,
}

impl StreamTokens {
    /// Counts one chunk as the backend sent it (its usage counts even when
    /// the client did not ask to see it).
    pub fn observe(&self, chunk: &Value) {
        self.answer_chars
            .fetch_add(answer_chars(chunk), Ordering::Relaxed);
        if let Some(tokens) = usage_tokens(chunk.get("usage")) {
            self.usage.store(tokens, Ordering::Relaxed);
        }
    }

    fn usage(&self) -> Option<u64> {
        Some(self.usage.load(Ordering::Relaxed)).filter(|tokens| *tokens > 0)
    }

    /// The count so far, as for a whole answer.
    fn so_far(&self) -> AnswerTokens {
        AnswerTokens {
            usage: self.usage(),
            answer_chars: self.answer_chars.load(Ordering::Relaxed),
        }
    }
}

/// Wraps the answer's body as the route needs.
pub async fn watch(response: Response, watched: Watched) -> Response {
    let is_stream = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/event-stream"));
    let interesting = watched.counts_tokens() || watched.route == Route::Runs;
    if is_stream {
        return stream(response, watched);
    }
    if !interesting || !response.status().is_success() {
        return response;
    }
    if let Some(tokens) = response.extensions().get::<AnswerTokens>().copied() {
        if watched.counts_tokens() {
            watched.record(tokens.tokens(&watched)).await;
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => return ApiError::Internal(format!("answer body: {error}")).into_response(),
    };
    if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
        if watched.counts_tokens() {
            watched
                .record(AnswerTokens::of(&value).tokens(&watched))
                .await;
        } else if value.get("object").and_then(Value::as_str) == Some("thread.run") {
            if let Some(run_id) = value.get("id").and_then(Value::as_str) {
                watched.note_run(run_id).await;
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// What the stream scanner keeps between chunks.
#[derive(Debug, Default)]
struct Scan {
    /// An incomplete line carried to the next chunk.
    partial: Vec<u8>,
    usage_seen: bool,
    answer_chars: u64,
    run_seen: bool,
    /// The last event of a Responses stream (for the error event's number).
    last_event: LastEvent,
}

/// What a killed Responses stream's error event needs of the last event sent
/// (kept instead of the event: one of them holds the whole response object,
/// and every open stream would keep it).
#[derive(Debug, Default, PartialEq)]
struct LastEvent {
    terminal: bool,
    sequence_number: Option<u64>,
}

impl LastEvent {
    /// Reads an event's `type` (its first field) and its top-level
    /// `sequence_number` (the last one in the text: a string's quotes are
    /// escaped, and no nested object has one) without parsing the event.
    fn of(data: &str) -> Self {
        let kind = data
            .split_once("\"type\":\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(kind, _)| kind);
        let sequence_number = data
            .rsplit_once("\"sequence_number\":")
            .map(|(_, rest)| rest.trim_start())
            .map(|rest| {
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                &rest[..digits]
            })
            .and_then(|digits| digits.parse().ok());
        Self {
            terminal: matches!(
                kind,
                Some("response.completed" | "response.failed" | "response.incomplete")
            ),
            sequence_number,
        }
    }
}

impl Scan {
    /// Feeds a chunk; returns the data payloads of the lines it completed.
    /// Only an unfinished line is kept between chunks (and its buffer freed
    /// once the line is complete: an open stream holds no chunk).
    fn lines(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut payloads = Vec::new();
        let mut rest = chunk;
        if !self.partial.is_empty() {
            let Some(end) = rest.iter().position(|byte| *byte == b'\n') else {
                self.partial.extend_from_slice(rest);
                return payloads;
            };
            self.partial.extend_from_slice(&rest[..=end]);
            push_data(&std::mem::take(&mut self.partial), &mut payloads);
            rest = &rest[end + 1..];
        }
        while let Some(end) = rest.iter().position(|byte| *byte == b'\n') {
            push_data(&rest[..=end], &mut payloads);
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            self.partial = rest.to_vec();
        }
        payloads
    }
}

/// Adds the payload of `line` to `payloads` if it is a `data:` line.
fn push_data(line: &[u8], payloads: &mut Vec<String>) {
    let line = String::from_utf8_lossy(line);
    if let Some(data) = line.trim_end().strip_prefix("data:") {
        payloads.push(data.trim_start().to_owned());
    }
}

fn stream(response: Response, watched: Watched) -> Response {
    let (parts, body) = response.into_parts();
    let counted = parts
        .extensions
        .get::<Arc<StreamTokens>>()
        .cloned()
        .filter(|_| watched.counts_tokens());
    let frames = async_stream::stream! {
        let mut inner = body.into_data_stream();
        let mut cancel = watched.registration.cancel.clone();
        let mut scan = Scan::default();
        let scanning = (watched.counts_tokens() && counted.is_none())
            || matches!(watched.route, Route::Runs | Route::Responses);
        loop {
            let next = if watched.route.stops_on_kill() {
                tokio::select! {
                    next = inner.next() => next,
                    Ok(_) = cancel.wait_for(|cancelled| *cancelled) => None,
                }
            } else {
                inner.next().await
            };
            let chunk = match next {
                Some(Ok(chunk)) => chunk,
                Some(Err(error)) => {
                    tracing::debug!(%error, "an answer's stream broke off");
                    break;
                }
                None => break,
            };
            if scanning {
                for data in scan.lines(&chunk) {
                    observe(&watched, &mut scan, data).await;
                }
            }
            if let Some(tokens) = counted.as_ref().and_then(|counted| counted.usage()) {
                if !scan.usage_seen {
                    scan.usage_seen = true;
                    Box::pin(watched.record(tokens)).await;
                }
            }
            yield Ok::<Bytes, Infallible>(chunk);
        }
        drop(inner);
        if watched.registration.cancelled() {
            if let Some(frame) = kill_frame(&watched, &scan) {
                yield Ok(frame);
            }
        }
        if watched.counts_tokens() && !scan.usage_seen {
            // The pipeline may have seen usage in a chunk that sent no frame.
            let tokens = match &counted {
                Some(counted) => counted.so_far().tokens(&watched),
                None => watched.estimate(scan.answer_chars),
            };
            Box::pin(watched.record(tokens)).await;
        }
    };
    Response::from_parts(parts, Body::from_stream(frames))
}

/// Looks at one `data:` payload of a watched stream.
async fn observe(watched: &Watched, scan: &mut Scan, data: String) {
    match watched.route {
        Route::Chat | Route::Embeddings => {
            if scan.usage_seen || data == "[DONE]" {
                return;
            }
            let Ok(chunk) = serde_json::from_str::<Value>(&data) else {
                return;
            };
            scan.answer_chars += answer_chars(&chunk);
            if let Some(tokens) = usage_tokens(chunk.get("usage")) {
                scan.usage_seen = true;
                Box::pin(watched.record(tokens)).await;
            }
        }
        Route::Runs if !scan.run_seen => {
            let Ok(event) = serde_json::from_str::<Value>(&data) else {
                return;
            };
            if event.get("object").and_then(Value::as_str) == Some("thread.run") {
                scan.run_seen = true;
                if let Some(run_id) = event.get("id").and_then(Value::as_str) {
                    Box::pin(watched.note_run(run_id)).await;
                }
            }
        }
        Route::Responses => scan.last_event = LastEvent::of(&data),
        _ => {}
    }
}

/// The error event that ends a killed stream, in the route's own grammar.
fn kill_frame(watched: &Watched, scan: &Scan) -> Option<Bytes> {
    let error = watched.kill_error();
    match watched.route {
        Route::Chat | Route::Embeddings => Some(chat_error_frame(&error)),
        Route::Responses => {
            if scan.last_event.terminal {
                return None;
            }
            let last = scan.last_event.sequence_number;
            Some(ResponseErrorEvent::after(last, &error).frame())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn usage_is_read_in_either_spelling_and_zero_means_unknown() {
        assert_eq!(
            usage_tokens(Some(
                &json!({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7})
            )),
            Some(7)
        );
        assert_eq!(
            usage_tokens(Some(&json!({"input_tokens": 2, "output_tokens": 5}))),
            Some(7)
        );
        assert_eq!(usage_tokens(Some(&json!({"total_tokens": 0}))), None);
        assert_eq!(usage_tokens(None), None);
    }

    #[test]
    fn lines_are_reassembled_across_chunks() {
        let mut scan = Scan::default();
        assert!(scan.lines(b"data: {\"a\"").is_empty());
        assert!(scan.lines(b":1").is_empty());
        assert_eq!(
            scan.lines(b"}\n\ndata: [DONE]\n\ndata: {\"b\""),
            ["{\"a\":1}", "[DONE]"]
        );
        assert_eq!(scan.lines(b":2}\n"), ["{\"b\":2}"]);
        assert!(scan.partial.is_empty());
        assert_eq!(
            scan.partial.capacity(),
            0,
            "a completed line's buffer is freed"
        );
    }

    #[test]
    fn the_last_responses_event_is_read_without_parsing_it() {
        let delta = json!({"type": "response.output_text.delta", "content_index": 0,
            "delta": "\"sequence_number\":99", "item_id": "msg_1", "output_index": 0,
            "sequence_number": 4});
        assert_eq!(
            LastEvent::of(&delta.to_string()),
            LastEvent {
                terminal: false,
                sequence_number: Some(4)
            }
        );
        let completed = json!({"type": "response.completed",
            "response": {"id": "resp_1", "output": []}, "sequence_number": 12});
        assert_eq!(
            LastEvent::of(&completed.to_string()),
            LastEvent {
                terminal: true,
                sequence_number: Some(12)
            }
        );
        assert_eq!(LastEvent::of("not json"), LastEvent::default());
    }

    #[test]
    fn a_metered_answer_carries_what_the_meter_would_read_from_its_body() {
        let completion = json!({"choices": [{"message": {"content": "hello"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}});
        let response = metered_json(completion.clone());
        assert_eq!(
            response.extensions().get::<AnswerTokens>(),
            Some(&AnswerTokens {
                usage: Some(7),
                answer_chars: 5
            })
        );
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "application/json",
            "still a JSON answer"
        );
    }

    #[test]
    fn the_answer_text_of_chunks_and_completions_is_measured() {
        let chunk = json!({"choices": [{"delta": {"content": "hello"}}]});
        let completion = json!({"choices": [{"message": {"content": "hi", "tool_calls": [{"function": {"arguments": "{}"}}]}}]});
        assert_eq!(answer_chars(&chunk), 5);
        assert_eq!(answer_chars(&completion), 4);
    }
}
