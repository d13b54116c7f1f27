//! Ollama's native API (`POST /api/chat`, NDJSON streaming), for servers where
//! its OpenAI-compatible layer lacks something (thinking, or its tool-call
//! quirks). Requests: Chat messages with tool-call arguments as JSON objects,
//! `options` for sampling, `format` for JSON output, `think` when reasoning is
//! wanted. Answers: one JSON object a line; `message.content`, `message.thinking`
//! and whole `message.tool_calls` (no ids: Portico makes `call_` ids), then a
//! last line with `done: true`, `done_reason` and token counts.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde_json::{json, Map, Value};

use super::openai_compat::{classify_send_error, status_error};
use crate::backends::backend::{Backend, ChatEventStream};
use crate::backends::error::BackendError;
use crate::wire::chat_events::{ChatEvent, ChatRequest, FinishReason, TokenUsage};

/// An Ollama server (base URL without `/v1`, e.g. `http://127.0.0.1:11434`).
#[derive(Debug, Clone)]
pub struct OllamaBackend {
    name: String,
    base_url: String,
    client: reqwest::Client,
}

impl OllamaBackend {
    /// A backend for the Ollama server at `base_url`.
    pub fn new(name: impl Into<String>, base_url: &str) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        Self {
            name: name.into(),
            base_url: base_url
                .trim_end_matches('/')
                .trim_end_matches("/v1")
                .to_owned(),
            client,
        }
    }
}

/// The `/api/chat` body for a chat request.
pub fn ollama_request(request: &ChatRequest) -> Value {
    let messages: Vec<Value> = request.messages.iter().map(ollama_message).collect();
    let mut body = json!({"model": request.model, "messages": messages, "stream": true});
    let mut options = Map::new();
    if let Some(temperature) = request.temperature {
        options.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = request.top_p {
        options.insert("top_p".into(), json!(top_p));
    }
    if let Some(max_tokens) = request.max_tokens {
        options.insert("num_predict".into(), json!(max_tokens));
    }
    if let Some(object) = body.as_object_mut() {
        if !options.is_empty() {
            object.insert("options".into(), Value::Object(options));
        }
        if !request.tools.is_empty() {
            object.insert("tools".into(), Value::Array(request.tools.clone()));
        }
        match request
            .response_format
            .as_ref()
            .and_then(|format| format.get("type"))
            .and_then(Value::as_str)
        {
            Some("json_object") => {
                object.insert("format".into(), json!("json"));
            }
            Some("json_schema") => {
                let schema = request
                    .response_format
                    .as_ref()
                    .and_then(|format| format.pointer("/json_schema/schema"))
                    .cloned()
                    .unwrap_or_else(|| json!("json"));
                object.insert("format".into(), schema);
            }
            _ => {}
        }
    }
    body
}

/// A Chat message in Ollama's form: text content, tool-call arguments as
/// objects, `developer` as `system` (Ollama hands roles to the model's
/// template as they are, and most templates know no `developer`: see
/// `profile`).
fn ollama_message(message: &Value) -> Value {
    let role = match message.get("role").and_then(Value::as_str) {
        Some("developer") => "system",
        Some(role) => role,
        None => "user",
    };
    let content = match message.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    };
    let mut converted = json!({"role": role, "content": content});
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        let calls: Vec<Value> = calls
            .iter()
            .map(|call| {
                let arguments = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or("{}");
                json!({"function": {
                    "name": call.pointer("/function/name").cloned().unwrap_or(Value::Null),
                    "arguments": serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({})),
                }})
            })
            .collect();
        converted["tool_calls"] = Value::Array(calls);
    }
    converted
}

/// Turns Ollama's NDJSON lines into chat events.
#[derive(Debug, Default)]
pub struct LineTranslator {
    next_call: u32,
    saw_tool_calls: bool,
    /// Whether the `done` line arrived.
    pub done: bool,
}

impl LineTranslator {
    /// Translates one line.
    pub fn translate(&mut self, line: &str) -> Result<Vec<ChatEvent>, BackendError> {
        let value: Value = serde_json::from_str(line)
            .map_err(|error| BackendError::Stream(format!("unparseable line: {error}")))?;
        if let Some(error) = value.get("error") {
            return Err(BackendError::from_stream_error("/api/chat", error));
        }
        let mut events = Vec::new();
        if let Some(message) = value.get("message") {
            if let Some(thinking) = message
                .get("thinking")
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
            {
                events.push(ChatEvent::ReasoningDelta(thinking.to_owned()));
            }
            if let Some(text) = message
                .get("content")
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
            {
                events.push(ChatEvent::TextDelta(text.to_owned()));
            }
            for call in message
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let index = self.next_call;
                self.next_call += 1;
                self.saw_tool_calls = true;
                let call_id = call
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| crate::wire::ids::new_id("call_"), str::to_owned);
                let name = call
                    .pointer("/function/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let arguments = match call.pointer("/function/arguments") {
                    Some(Value::String(text)) => text.clone(),
                    Some(other) => other.to_string(),
                    None => "{}".to_owned(),
                };
                events.push(ChatEvent::ToolCallStart {
                    index,
                    call_id,
                    name,
                });
                events.push(ChatEvent::ToolCallArguments {
                    index,
                    fragment: arguments,
                });
            }
        }
        if value.get("done").and_then(Value::as_bool) == Some(true) {
            self.done = true;
            let reason = match value.get("done_reason").and_then(Value::as_str) {
                Some("length") => FinishReason::Length,
                _ if self.saw_tool_calls => FinishReason::ToolCalls,
                _ => FinishReason::Stop,
            };
            events.push(ChatEvent::Finish(reason));
            events.push(ChatEvent::Usage(TokenUsage {
                prompt_tokens: value
                    .get("prompt_eval_count")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
                completion_tokens: value.get("eval_count").and_then(Value::as_u64).unwrap_or(0),
                ..TokenUsage::default()
            }));
        }
        Ok(events)
    }
}

impl Backend for OllamaBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn stream_chat(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'_, Result<ChatEventStream, BackendError>> {
        async move {
            let response = self
                .client
                .post(format!("{}/api/chat", self.base_url))
                .json(&ollama_request(&request))
                .send()
                .await
                .map_err(classify_send_error)?;
            if !response.status().is_success() {
                return Err(status_error(response).await);
            }
            let mut bytes = response.bytes_stream();
            let stream = async_stream::stream! {
                let mut translator = LineTranslator::default();
                let mut buffer: Vec<u8> = Vec::new();
                while let Some(chunk) = bytes.next().await {
                    let chunk = match chunk {
                        Ok(chunk) => chunk,
                        Err(error) => {
                            yield Err(BackendError::Stream(error.to_string()));
                            return;
                        }
                    };
                    buffer.extend_from_slice(&chunk);
                    while let Some(end) = buffer.iter().position(|byte| *byte == b'\n') {
                        let line: Vec<u8> = buffer.drain(..=end).collect();
                        let line = String::from_utf8_lossy(&line);
                        if line.trim().is_empty() {
                            continue;
                        }
                        match translator.translate(line.trim()) {
                            Ok(events) => for event in events { yield Ok(event); },
                            Err(error) => { yield Err(error); return; }
                        }
                    }
                }
                let rest = String::from_utf8_lossy(&buffer).trim().to_owned();
                if !rest.is_empty() {
                    match translator.translate(&rest) {
                        Ok(events) => for event in events { yield Ok(event); },
                        Err(error) => { yield Err(error); return; }
                    }
                }
                if !translator.done {
                    yield Err(BackendError::Stream("the backend closed the stream before it finished".into()));
                }
            };
            Ok(Box::pin(stream) as ChatEventStream)
        }
        .boxed()
    }

    fn list_models(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        async move {
            let response = self
                .client
                .get(format!("{}/api/tags", self.base_url))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .map_err(classify_send_error)?;
            if !response.status().is_success() {
                return Err(status_error(response).await);
            }
            let body: Value = response
                .json()
                .await
                .map_err(|error| BackendError::Stream(error.to_string()))?;
            Ok(body
                .get("models")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|model| {
                    model
                        .get("name")
                        .or_else(|| model.get("model"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_text_thinking_tool_calls_and_a_finish() {
        let mut translator = LineTranslator::default();
        let mut events = Vec::new();
        for line in [
            r#"{"message":{"role":"assistant","content":"","thinking":"hmm"},"done":false}"#,
            r#"{"message":{"role":"assistant","content":"Hi"},"done":false}"#,
            r#"{"message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":{"x":1}}}]},"done":false}"#,
            r#"{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":5,"eval_count":7}"#,
        ] {
            events.extend(translator.translate(line).unwrap());
        }
        assert_eq!(events[0], ChatEvent::ReasoningDelta("hmm".into()));
        assert_eq!(events[1], ChatEvent::TextDelta("Hi".into()));
        assert!(
            matches!(&events[2], ChatEvent::ToolCallStart { index: 0, name, call_id } if name == "f" && call_id.starts_with("call_"))
        );
        assert_eq!(
            events[3],
            ChatEvent::ToolCallArguments {
                index: 0,
                fragment: r#"{"x":1}"#.into()
            }
        );
        assert_eq!(events[4], ChatEvent::Finish(FinishReason::ToolCalls));
        assert_eq!(
            events[5],
            ChatEvent::Usage(TokenUsage {
                prompt_tokens: 5,
                completion_tokens: 7,
                ..TokenUsage::default()
            })
        );
        assert!(translator.done);
        assert!(translator
            .translate(r#"{"error":"model not found"}"#)
            .is_err());
    }

    #[test]
    fn requests_carry_options_format_and_object_arguments() {
        let request = ChatRequest {
            model: "qwen".into(),
            messages: vec![
                json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":2}"}}]}),
                json!({"role": "tool", "tool_call_id": "call_1", "content": "ok"}),
                json!({"role": "developer", "content": "be brief"}),
            ],
            temperature: Some(0.0),
            max_tokens: Some(32),
            response_format: Some(json!({"type": "json_object"})),
            ..ChatRequest::default()
        };
        let body = ollama_request(&request);
        assert_eq!(
            body["messages"][0]["tool_calls"][0]["function"]["arguments"],
            json!({"a": 2})
        );
        assert_eq!(body["messages"][1]["role"], "tool");
        assert_eq!(
            body["messages"][2],
            json!({"role": "system", "content": "be brief"})
        );
        assert_eq!(
            body["options"],
            json!({"temperature": 0.0, "num_predict": 32})
        );
        assert_eq!(body["format"], "json");
        assert_eq!(body["stream"], true);
    }
}
