//! Chat Completions wire output synthesized from a backend's [`ChatEvent`]s.
//!
//! The streamed grammar, as OpenAI sends it (and as openai-python / openai-node
//! accumulate it, concatenating strings field by field):
//!
//! * Every chunk is `{id, object:"chat.completion.chunk", created, model,
//!   service_tier, system_fingerprint, choices}` with the same `id`, `created`
//!   and `model`. When the client asked for `stream_options.include_usage`, every
//!   chunk also carries `"usage": null`.
//! * `choices` holds one entry `{index:0, delta, logprobs:null, finish_reason}`;
//!   `finish_reason` is null on every chunk but the finish chunk.
//! * The first chunk's delta is `{"role":"assistant","content":"","refusal":null}`:
//!   the role appears exactly once. (On its way to the client, the chat
//!   pipeline merges it into a first tool-call chunk, or nulls its content
//!   before a refusal, as OpenAI sends them; see `FirstChunkHold`.)
//! * Text becomes `delta.content`, reasoning `delta.reasoning_content` (the field
//!   vLLM, llama.cpp and DeepSeek use). Empty pieces are not sent.
//! * A tool call's first fragment is `{index, id, type:"function",
//!   function:{name, arguments:""}}`; later fragments are only `{index,
//!   function:{arguments}}`, so `id` and `name` are never repeated. Call indices
//!   are renumbered 0, 1, 2… in order of appearance, which also separates
//!   backends that reuse one index for every call of a parallel batch.
//! * The finish chunk has `delta:{}` and the `finish_reason`; only the first
//!   finish counts.
//! * With `include_usage`, one last chunk with `choices: []` carries the usage.
//!   The caller then writes `data: [DONE]`.
//!
//! The encoder emits only what carries information; every chunk then goes
//! through [`ChunkNormalizer`] and the completion body through
//! [`normalize_completion`], which add OpenAI's remaining keys and defaults, the
//! same ones added to answers forwarded from HTTP backends.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::stream::chat::normalize::{normalize_completion, normalize_usage, ChunkNormalizer};
use crate::wire::chat_events::{ChatEvent, ChatRequest, FinishReason, TokenUsage};

/// Turns a backend's events into `chat.completion.chunk` objects, one stream's worth.
#[derive(Debug, Clone)]
pub struct ChunkEncoder {
    id: String,
    created: i64,
    model: String,
    include_usage: bool,
    role_sent: bool,
    finished: bool,
    usage: Option<TokenUsage>,
    calls: ToolCallSlots,
    normalizer: ChunkNormalizer,
}

impl ChunkEncoder {
    /// An encoder for one completion of `model`; `include_usage` mirrors
    /// `stream_options.include_usage`.
    pub fn new(model: &str, include_usage: bool) -> Self {
        Self {
            id: crate::wire::ids::new_id("chatcmpl-"),
            created: crate::wire::ids::unix_now(),
            model: model.to_owned(),
            include_usage,
            role_sent: false,
            finished: false,
            usage: None,
            calls: ToolCallSlots::default(),
            normalizer: ChunkNormalizer::new(model, include_usage),
        }
    }

    /// The completion id shared by every chunk (`chatcmpl-…`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The role chunk that opens the stream. [`encode`](Self::encode) sends it
    /// itself when this was not called first.
    pub fn first_chunk(&mut self) -> Value {
        self.role_sent = true;
        self.chunk(json!({"role": "assistant", "content": ""}), None)
    }

    /// The chunks for one event: none for usage, empty pieces and anything after
    /// the finish; otherwise one (two when the role chunk is still owed).
    pub fn encode(&mut self, event: &ChatEvent) -> Vec<Value> {
        if let ChatEvent::Usage(usage) = event {
            self.usage = Some(*usage);
            return Vec::new();
        }
        if self.finished {
            return Vec::new();
        }
        let (delta, finish_reason) = match event {
            ChatEvent::TextDelta(text) if !text.is_empty() => (json!({"content": text}), None),
            ChatEvent::ReasoningDelta(text) if !text.is_empty() => {
                (json!({"reasoning_content": text}), None)
            }
            ChatEvent::RefusalDelta(text) if !text.is_empty() => (json!({"refusal": text}), None),
            ChatEvent::ToolCallStart {
                index,
                call_id,
                name,
            } => match self.calls.start(*index, call_id) {
                Some(slot) => (
                    tool_call_delta(first_fragment(slot, call_id, name, "")),
                    None,
                ),
                None => return Vec::new(),
            },
            ChatEvent::ToolCallArguments { index, fragment } if !fragment.is_empty() => {
                let call = match self.calls.lookup(*index) {
                    Some(slot) => json!({"index": slot, "function": {"arguments": fragment}}),
                    // Arguments without a start: open the call here so that it has an id.
                    None => {
                        let call_id = crate::wire::ids::new_id("call_");
                        let slot = self.calls.start(*index, &call_id).unwrap_or_default();
                        first_fragment(slot, &call_id, "", fragment)
                    }
                };
                (tool_call_delta(call), None)
            }
            ChatEvent::Finish(reason) => {
                self.finished = true;
                (json!({}), Some(*reason))
            }
            _ => return Vec::new(),
        };
        let mut chunks = Vec::with_capacity(2);
        if !self.role_sent {
            chunks.push(self.first_chunk());
        }
        chunks.push(self.chunk(delta, finish_reason));
        chunks
    }

    /// The closing usage chunk (`choices: []`), when usage was asked for and seen.
    pub fn usage_chunk(&mut self) -> Option<Value> {
        let usage = self.usage.filter(|_| self.include_usage)?;
        let chunk = json!({
            "id": self.id,
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage_json(&usage),
        });
        Some(self.normalizer.normalize(chunk))
    }

    fn chunk(&mut self, delta: Value, finish_reason: Option<FinishReason>) -> Value {
        let chunk = json!({
            "id": self.id,
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "delta": delta,
                "finish_reason": finish_reason.map(FinishReason::as_wire),
            }],
        });
        self.normalizer.normalize(chunk)
    }
}

/// Usage in Chat Completions spelling (`CompletionUsage`), every detail filled.
pub fn usage_json(usage: &TokenUsage) -> Value {
    normalize_usage(json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }))
}

/// The non-streamed `chat.completion` body for a finished list of events.
/// Without a `Finish` event the reason is `tool_calls` when calls were made, else
/// `stop`; without a `Usage` event the counts are zero.
pub fn collect_completion(model: &str, events: &[ChatEvent]) -> Value {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut refusal = String::new();
    let mut calls = ToolCallSlots::default();
    // (id, name, arguments) by output slot.
    let mut collected: Vec<(String, String, String)> = Vec::new();
    let mut finish_reason = None;
    let mut usage = TokenUsage::default();
    for event in events {
        match event {
            ChatEvent::TextDelta(piece) => text.push_str(piece),
            ChatEvent::ReasoningDelta(piece) => reasoning.push_str(piece),
            ChatEvent::RefusalDelta(piece) => refusal.push_str(piece),
            ChatEvent::ToolCallStart {
                index,
                call_id,
                name,
            } => {
                if calls.start(*index, call_id).is_some() {
                    collected.push((call_id.clone(), name.clone(), String::new()));
                }
            }
            ChatEvent::ToolCallArguments { index, fragment } => {
                let slot = calls.lookup(*index).unwrap_or_else(|| {
                    let call_id = crate::wire::ids::new_id("call_");
                    collected.push((call_id.clone(), String::new(), String::new()));
                    calls.start(*index, &call_id).unwrap_or_default()
                });
                if let Some(call) = collected.get_mut(slot as usize) {
                    call.2.push_str(fragment);
                }
            }
            ChatEvent::Finish(reason) => {
                finish_reason.get_or_insert(*reason);
            }
            ChatEvent::Usage(reported) => usage = *reported,
        }
    }
    let finish_reason = finish_reason.unwrap_or(if collected.is_empty() {
        FinishReason::Stop
    } else {
        FinishReason::ToolCalls
    });
    let mut message = Map::new();
    message.insert("role".to_owned(), json!("assistant"));
    let content = if text.is_empty() && !collected.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    };
    message.insert("content".to_owned(), content);
    if !collected.is_empty() {
        let tool_calls = collected
            .into_iter()
            .map(|(id, name, arguments)| {
                json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
            })
            .collect();
        message.insert("tool_calls".to_owned(), Value::Array(tool_calls));
    }
    if !reasoning.is_empty() {
        message.insert("reasoning_content".to_owned(), Value::String(reasoning));
    }
    if !refusal.is_empty() {
        message.insert("refusal".to_owned(), Value::String(refusal));
    }
    let body = json!({
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason.as_wire()}],
        "usage": usage_json(&usage),
    });
    normalize_completion(body, model)
}

/// Reads a Chat Completions request body leniently: `model` and `messages` must
/// be present with the right type; other known fields are taken when they have
/// the right type and ignored otherwise. `max_completion_tokens` wins over
/// `max_tokens`.
pub fn chat_request_from_body(body: &Value) -> Result<ChatRequest, String> {
    let object = body
        .as_object()
        .ok_or_else(|| "The request body must be a JSON object.".to_owned())?;
    let model = match object.get("model") {
        Some(Value::String(model)) => model.clone(),
        None | Some(Value::Null) => return Err("Missing required parameter: 'model'.".to_owned()),
        Some(other) => return Err(invalid_type("model", "a string", other)),
    };
    let messages = match object.get("messages") {
        Some(Value::Array(messages)) => messages.clone(),
        None | Some(Value::Null) => {
            return Err("Missing required parameter: 'messages'.".to_owned())
        }
        Some(other) => return Err(invalid_type("messages", "an array", other)),
    };
    let present = |key: &str| object.get(key).filter(|value| !value.is_null()).cloned();
    let number = |key: &str| object.get(key).and_then(Value::as_f64);
    Ok(ChatRequest {
        model,
        messages,
        tools: object
            .get("tools")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        tool_choice: present("tool_choice"),
        parallel_tool_calls: object.get("parallel_tool_calls").and_then(Value::as_bool),
        response_format: present("response_format"),
        temperature: number("temperature"),
        top_p: number("top_p"),
        max_tokens: object
            .get("max_completion_tokens")
            .and_then(Value::as_u64)
            .or_else(|| object.get("max_tokens").and_then(Value::as_u64)),
        user: object
            .get("user")
            .and_then(Value::as_str)
            .map(str::to_owned),
        reasoning_effort: object
            .get("reasoning_effort")
            .and_then(Value::as_str)
            .map(str::to_owned),
        whole_answer: false,
    })
}

/// OpenAI's wording for a parameter of the wrong JSON type.
fn invalid_type(param: &str, expected: &str, got: &Value) -> String {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "an integer",
        Value::Number(_) => "a decimal",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    format!("Invalid type for '{param}': expected {expected}, but got {got} instead.")
}

fn tool_call_delta(call: Value) -> Value {
    json!({"tool_calls": [call]})
}

fn first_fragment(slot: u32, call_id: &str, name: &str, arguments: &str) -> Value {
    json!({
        "index": slot,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    })
}

/// Maps the backend's tool-call indices to the client's, numbered in order of
/// appearance. A start with a new call id opens a new slot even when the backend
/// reuses an index; a repeated start of the same call is ignored.
#[derive(Debug, Clone, Default)]
struct ToolCallSlots {
    /// Backend index → (client slot, call id) of the call it currently means.
    open: HashMap<u32, (u32, String)>,
    next: u32,
}

impl ToolCallSlots {
    /// The new slot, or `None` when this start repeats the open call.
    fn start(&mut self, backend_index: u32, call_id: &str) -> Option<u32> {
        if let Some((_, open_id)) = self.open.get(&backend_index) {
            if open_id == call_id {
                return None;
            }
        }
        let slot = self.next;
        self.next += 1;
        self.open.insert(backend_index, (slot, call_id.to_owned()));
        Some(slot)
    }

    fn lookup(&self, backend_index: u32) -> Option<u32> {
        self.open.get(&backend_index).map(|(slot, _)| *slot)
    }
}

#[cfg(test)]
#[path = "synthesize_tests.rs"]
mod tests;
