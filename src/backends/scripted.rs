//! The built-in deterministic backend. Without a script it echoes the last user
//! message back; with a [`Script`] it produces exactly the reasoning, text, tool
//! calls, finish reason, usage, delays and failures the script says. It runs in
//! process (the `echo` model of `portico serve`) and behind HTTP
//! (`portico mock-backend`), so tests and benchmarks can use a real network hop.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backends::backend::{Backend, ChatEventStream};
use crate::backends::error::BackendError;
use crate::wire::chat_events::{estimate_tokens, ChatEvent, ChatRequest, FinishReason, TokenUsage};

/// What the scripted backend answers to one request. Every field is optional;
/// the default answer echoes the last user message.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Reasoning text streamed before the answer.
    #[serde(default)]
    pub reasoning: Option<String>,
    /// The answer's text. `None` echoes the last user message (unless tool calls
    /// or a refusal are given).
    #[serde(default)]
    pub content: Option<String>,
    /// A refusal, streamed before any text.
    #[serde(default)]
    pub refusal: Option<String>,
    /// Tool calls produced after the text.
    #[serde(default)]
    pub tool_calls: Vec<ScriptedToolCall>,
    /// The finish reason; by default `tool_calls` when there are calls, else `stop`.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
    /// Token counts; by default estimated from the text (about four characters a token).
    #[serde(default)]
    pub usage: Option<TokenUsage>,
    /// Fail before the first token with this HTTP status (e.g. 500, 503).
    #[serde(default)]
    pub error_status: Option<u16>,
    /// The error message used with `error_status` or `fail_after_events`.
    #[serde(default)]
    pub error_message: Option<String>,
    /// The exact JSON body answered with `error_status` (over HTTP), e.g. an OpenAI envelope.
    #[serde(default)]
    pub error_body: Option<Value>,
    /// Break the stream after this many events (a mid-stream failure).
    #[serde(default)]
    pub fail_after_events: Option<usize>,
    /// Wait this long before answering at all.
    #[serde(default)]
    pub delay_ms: u64,
    /// Wait this long between streamed pieces.
    #[serde(default)]
    pub chunk_delay_ms: u64,
    /// Split text into pieces of at most this many characters (default: by word).
    #[serde(default)]
    pub chunk_chars: Option<usize>,
    /// HTTP mock only, to imitate a server's quirks: answer with these chunks as
    /// an SSE stream, whatever the request's `stream`, each verbatim as one
    /// `data:` line (a JSON string is sent as the data text itself, so non-JSON
    /// payloads can be sent), then `data: [DONE]` unless `raw_without_done`.
    #[serde(default)]
    pub raw_chunks: Option<Vec<Value>>,
    /// With `raw_chunks`: end the stream without `[DONE]`.
    #[serde(default)]
    pub raw_without_done: bool,
    /// HTTP mock only: answer with this JSON body verbatim, whatever the
    /// request's `stream` (chat and embeddings).
    #[serde(default)]
    pub raw_body: Option<Value>,
}

impl Script {
    /// The error answer the script asks for, as an OpenAI-compatible server
    /// sends it: `error_status` with `error_body` verbatim, or an OpenAI
    /// envelope around `error_message` (`invalid_request_error` for a 4xx,
    /// `server_error` otherwise).
    pub fn error_answer(&self) -> Option<(u16, Value)> {
        let status = self.error_status?;
        let body = self.error_body.clone().unwrap_or_else(|| {
            let message = self
                .error_message
                .clone()
                .unwrap_or_else(|| "scripted backend failure".to_owned());
            let kind = if (400..500).contains(&status) {
                "invalid_request_error"
            } else {
                "server_error"
            };
            serde_json::json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
        });
        Some((status, body))
    }
}

/// One scripted tool call.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScriptedToolCall {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

/// A queue of scripts shared between the control endpoint and the backend:
/// each request takes the next one; an empty queue means "echo".
#[derive(Debug, Clone, Default)]
pub struct ScriptQueue {
    scripts: Arc<Mutex<VecDeque<Script>>>,
}

impl ScriptQueue {
    /// Appends scripts for the next requests.
    pub fn push(&self, scripts: impl IntoIterator<Item = Script>) {
        if let Ok(mut queue) = self.scripts.lock() {
            queue.extend(scripts);
        }
    }

    /// Takes the script for the next request.
    pub fn next(&self) -> Script {
        self.scripts
            .lock()
            .ok()
            .and_then(|mut queue| queue.pop_front())
            .unwrap_or_default()
    }

    /// Forgets every queued script.
    pub fn clear(&self) {
        if let Ok(mut queue) = self.scripts.lock() {
            queue.clear();
        }
    }
}

/// The in-process scripted backend.
#[derive(Debug, Clone, Default)]
pub struct ScriptedBackend {
    name: String,
    models: Vec<String>,
    /// Scripts for the next requests.
    pub scripts: ScriptQueue,
}

impl ScriptedBackend {
    /// A scripted backend serving `models`.
    pub fn new(name: impl Into<String>, models: Vec<String>) -> Self {
        Self {
            name: name.into(),
            models,
            scripts: ScriptQueue::default(),
        }
    }
}

impl Backend for ScriptedBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn stream_chat(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'_, Result<ChatEventStream, BackendError>> {
        let script = self.scripts.next();
        async move { play(script, &request).await }.boxed()
    }

    fn list_models(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        let models = self.models.clone();
        async move { Ok(models) }.boxed()
    }
}

/// Plays a script against a request: waits `delay_ms`, fails early if told to,
/// then returns the paced event stream.
pub async fn play(script: Script, request: &ChatRequest) -> Result<ChatEventStream, BackendError> {
    if script.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(script.delay_ms)).await;
    }
    if let Some((status, body)) = script.error_answer() {
        return Err(BackendError::from_answer(
            "/chat/completions",
            status,
            &body.to_string(),
        ));
    }
    let events = script_events(&script, request);
    let fail_after = script.fail_after_events;
    let error_message = script
        .error_message
        .clone()
        .unwrap_or_else(|| "scripted mid-stream failure".to_owned());
    let pause = Duration::from_millis(script.chunk_delay_ms);
    let stream = async_stream::stream! {
        for (emitted, event) in events.into_iter().enumerate() {
            if fail_after == Some(emitted) {
                yield Err(BackendError::Stream(error_message.clone()));
                return;
            }
            if !pause.is_zero() && emitted > 0 {
                tokio::time::sleep(pause).await;
            }
            yield Ok(event);
        }
    };
    Ok(Box::pin(stream))
}

/// The full list of events a script produces for a request, without pacing.
pub fn script_events(script: &Script, request: &ChatRequest) -> Vec<ChatEvent> {
    let mut events = Vec::new();
    if let Some(reasoning) = &script.reasoning {
        events.extend(
            split_text(reasoning, script.chunk_chars)
                .into_iter()
                .map(ChatEvent::ReasoningDelta),
        );
    }
    if let Some(refusal) = &script.refusal {
        events.extend(
            split_text(refusal, script.chunk_chars)
                .into_iter()
                .map(ChatEvent::RefusalDelta),
        );
    }
    let text = match (
        &script.content,
        script.tool_calls.is_empty() && script.refusal.is_none(),
    ) {
        (Some(content), _) => content.clone(),
        (None, true) => echo_text(request),
        (None, false) => String::new(),
    };
    events.extend(
        split_text(&text, script.chunk_chars)
            .into_iter()
            .map(ChatEvent::TextDelta),
    );
    for (index, call) in script.tool_calls.iter().enumerate() {
        let index = index as u32;
        let call_id = call
            .id
            .clone()
            .unwrap_or_else(|| format!("call_scripted_{index}"));
        events.push(ChatEvent::ToolCallStart {
            index,
            call_id,
            name: call.name.clone(),
        });
        for fragment in split_text(&call.arguments, Some(script.chunk_chars.unwrap_or(8))) {
            events.push(ChatEvent::ToolCallArguments { index, fragment });
        }
    }
    let finish = script
        .finish_reason
        .unwrap_or(if script.tool_calls.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        });
    events.push(ChatEvent::Finish(finish));
    let usage = script.usage.unwrap_or_else(|| {
        let completion_chars = text.len()
            + script.reasoning.as_deref().map_or(0, str::len)
            + script
                .tool_calls
                .iter()
                .map(|call| call.name.len() + call.arguments.len())
                .sum::<usize>();
        TokenUsage {
            prompt_tokens: estimate_tokens(
                &serde_json::to_string(&request.messages).unwrap_or_default(),
            ),
            completion_tokens: (completion_chars as u64).div_ceil(4).max(1),
            reasoning_tokens: script
                .reasoning
                .as_deref()
                .map_or(0, |reasoning| (reasoning.len() as u64).div_ceil(4)),
            cached_tokens: 0,
        }
    });
    events.push(ChatEvent::Usage(usage));
    events
}

/// The text of the last user message, which the echo model says back.
fn echo_text(request: &ChatRequest) -> String {
    request
        .messages
        .iter()
        .rev()
        .find(|message| message.get("role").and_then(Value::as_str) == Some("user"))
        .map(message_text)
        .unwrap_or_default()
}

/// The text of a chat message whose content is a string or a list of text parts.
pub fn message_text(message: &Value) -> String {
    match message.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// Splits text into stream pieces: fixed-size character chunks, or words with
/// their trailing space. Concatenating the pieces gives the text back.
pub fn split_text(text: &str, chunk_chars: Option<usize>) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    match chunk_chars {
        Some(size) if size > 0 => {
            let chars: Vec<char> = text.chars().collect();
            chars
                .chunks(size)
                .map(|chunk| chunk.iter().collect())
                .collect()
        }
        _ => text.split_inclusive(' ').map(str::to_owned).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(text: &str) -> ChatRequest {
        ChatRequest {
            model: "echo".into(),
            messages: vec![json!({"role": "user", "content": text})],
            ..ChatRequest::default()
        }
    }

    #[test]
    fn the_default_script_echoes_the_last_user_message() {
        let events = script_events(&Script::default(), &request("hello there world"));
        let text: String = events
            .iter()
            .filter_map(|event| match event {
                ChatEvent::TextDelta(piece) => Some(piece.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "hello there world");
        assert!(events.contains(&ChatEvent::Finish(FinishReason::Stop)));
    }

    #[test]
    fn tool_calls_finish_with_tool_calls_and_keep_their_arguments() {
        let script = Script {
            tool_calls: vec![ScriptedToolCall {
                id: Some("call_1".into()),
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
            }],
            ..Script::default()
        };
        let events = script_events(&script, &request("weather?"));
        let arguments: String = events
            .iter()
            .filter_map(|event| match event {
                ChatEvent::ToolCallArguments { fragment, .. } => Some(fragment.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(arguments, r#"{"city":"Paris"}"#);
        assert!(events.contains(&ChatEvent::Finish(FinishReason::ToolCalls)));
        assert!(!events
            .iter()
            .any(|event| matches!(event, ChatEvent::TextDelta(_))));
    }

    #[test]
    fn split_text_round_trips() {
        for size in [None, Some(1), Some(3)] {
            assert_eq!(split_text("a bc déf ", size).concat(), "a bc déf ");
        }
    }
}
