//! Streamed chunks in OpenAI's shape: [`ChunkNormalizer`] keeps, per stream,
//! the first chunk's `id` and `created` and, per choice, whether the role and
//! each tool call's id and name were sent (see the grammar in `normalize`), and
//! pads every chunk with OpenAI's random `obfuscation` when asked to.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::{
    arguments_string, fill_service_keys, new_completion_id, non_empty_string, normalize_usage, now,
    optional, required,
};
use crate::wire::ids::new_id;

/// Normalizes the chunks of one stream, remembering what was already sent.
#[derive(Debug, Clone, Default)]
pub struct ChunkNormalizer {
    requested_model: String,
    include_usage: bool,
    obfuscate: bool,
    id: Option<Value>,
    created: Option<Value>,
    model: Option<Value>,
    /// Per choice index: whether its role was sent, and its tool calls.
    choices: HashMap<u64, ChoiceState>,
}

#[derive(Debug, Clone, Default)]
struct ChoiceState {
    role_sent: bool,
    /// Upstream tool-call index → the call it currently means.
    calls: HashMap<u64, OpenCall>,
    next_slot: u64,
}

#[derive(Debug, Clone)]
struct OpenCall {
    slot: u64,
    id: String,
    name_sent: bool,
}

impl ChunkNormalizer {
    /// A normalizer for one stream of `requested_model`; `include_usage` mirrors
    /// the request's `stream_options.include_usage`.
    pub fn new(requested_model: &str, include_usage: bool) -> Self {
        Self {
            requested_model: requested_model.to_owned(),
            include_usage,
            ..Self::default()
        }
    }

    /// Whether the client asked for `stream_options.include_usage`.
    pub fn includes_usage(&self) -> bool {
        self.include_usage
    }

    /// Gives every chunk this `id` whatever the backend sent (a stored
    /// completion is kept under Portico's own id).
    pub fn with_id(mut self, id: &str) -> Self {
        self.id = Some(Value::String(id.to_owned()));
        self
    }

    /// Pads every chunk with a random `obfuscation` string, as OpenAI does
    /// unless the request sets `stream_options.include_obfuscation: false`.
    pub fn with_obfuscation(mut self, obfuscate: bool) -> Self {
        self.obfuscate = obfuscate;
        self
    }

    /// The next chunk in OpenAI's shape. Error chunks and anything but an object
    /// are returned as they are.
    pub fn normalize(&mut self, chunk: Value) -> Value {
        let Value::Object(mut rest) = chunk else {
            return chunk;
        };
        if rest.get("error").is_some_and(|error| !error.is_null()) {
            return Value::Object(rest);
        }
        let mut out = Map::new();
        let id = first_chunk_value(&mut self.id, &mut rest, "id", new_completion_id);
        out.insert("id".into(), id);
        rest.remove("object");
        out.insert("object".into(), json!("chat.completion.chunk"));
        let created = first_chunk_value(&mut self.created, &mut rest, "created", now);
        out.insert("created".into(), created);
        let model = match rest.remove("model").filter(|model| !model.is_null()) {
            Some(model) => {
                self.model.get_or_insert_with(|| model.clone());
                model
            }
            None => self
                .model
                .clone()
                .unwrap_or_else(|| json!(self.requested_model)),
        };
        out.insert("model".into(), model);
        fill_service_keys(&mut rest, &mut out);
        let choices = match rest.remove("choices") {
            Some(Value::Array(choices)) => choices
                .into_iter()
                .enumerate()
                .map(|(position, choice)| self.chunk_choice(choice, position))
                .collect(),
            _ => Vec::new(),
        };
        out.insert("choices".into(), Value::Array(choices));
        match rest.remove("usage") {
            Some(usage) => {
                out.insert("usage".into(), normalize_usage(usage));
            }
            None if self.include_usage => {
                out.insert("usage".into(), Value::Null);
            }
            None => {}
        }
        out.extend(rest);
        if self.obfuscate && !out.contains_key("obfuscation") {
            let padding = obfuscation(&out);
            out.insert("obfuscation".into(), Value::String(padding));
        }
        Value::Object(out)
    }

    fn chunk_choice(&mut self, choice: Value, position: usize) -> Value {
        let Value::Object(mut rest) = choice else {
            return choice;
        };
        let index = required(&mut rest, "index", || json!(position));
        let state = self
            .choices
            .entry(index.as_u64().unwrap_or(position as u64))
            .or_default();
        let delta = match rest.remove("delta").or_else(|| rest.remove("message")) {
            Some(Value::Object(delta)) => delta,
            _ => Map::new(),
        };
        let mut out = Map::new();
        out.insert("index".into(), index);
        out.insert("delta".into(), Value::Object(state.delta(delta)));
        out.insert(
            "logprobs".into(),
            optional(&mut rest, "logprobs", Value::Null),
        );
        out.insert(
            "finish_reason".into(),
            optional(&mut rest, "finish_reason", Value::Null),
        );
        out.extend(rest);
        Value::Object(out)
    }
}

impl ChoiceState {
    /// A delta with the role only the first time and each call's id, type and
    /// name only in its first fragment.
    fn delta(&mut self, mut rest: Map<String, Value>) -> Map<String, Value> {
        let first = !self.role_sent;
        self.role_sent = true;
        let role = rest.remove("role").filter(|role| !role.is_null());
        let mut out = Map::new();
        if first {
            out.insert("role".into(), role.unwrap_or_else(|| json!("assistant")));
        }
        if let Some(content) = rest.remove("content") {
            out.insert("content".into(), content);
        }
        if let Some(calls) = rest.remove("tool_calls") {
            let calls = match calls {
                Value::Array(fragments) => Value::Array(
                    fragments
                        .into_iter()
                        .enumerate()
                        .map(|(position, fragment)| self.tool_call_fragment(fragment, position))
                        .collect(),
                ),
                other => other,
            };
            out.insert("tool_calls".into(), calls);
        }
        match rest.remove("refusal") {
            Some(refusal) => {
                out.insert("refusal".into(), refusal);
            }
            None if first => {
                out.insert("refusal".into(), Value::Null);
            }
            None => {}
        }
        out.extend(rest);
        out
    }

    fn tool_call_fragment(&mut self, fragment: Value, position: usize) -> Value {
        let Value::Object(mut rest) = fragment else {
            return fragment;
        };
        let upstream_index = rest
            .remove("index")
            .and_then(|index| index.as_u64())
            .unwrap_or(position as u64);
        let id = non_empty_string(rest.remove("id"));
        let kind = rest.remove("type").filter(|kind| !kind.is_null());
        let mut function = match rest.remove("function") {
            Some(Value::Object(function)) => function,
            _ => Map::new(),
        };
        let name = non_empty_string(function.remove("name"));
        let arguments = function.remove("arguments").map(arguments_string);
        let is_new = match self.calls.get(&upstream_index) {
            None => true,
            Some(open) => name.is_some() && id.as_ref().is_some_and(|id| *id != open.id),
        };
        let mut out = Map::new();
        let mut function_out = Map::new();
        if is_new {
            let slot = self.next_slot;
            self.next_slot += 1;
            let call_id = id.unwrap_or_else(|| new_id("call_"));
            self.calls.insert(
                upstream_index,
                OpenCall {
                    slot,
                    id: call_id.clone(),
                    name_sent: name.is_some(),
                },
            );
            out.insert("index".into(), json!(slot));
            out.insert("id".into(), json!(call_id));
            out.insert("type".into(), kind.unwrap_or_else(|| json!("function")));
            function_out.insert("name".into(), json!(name.unwrap_or_default()));
            function_out.insert("arguments".into(), arguments.unwrap_or_else(|| json!("")));
        } else if let Some(open) = self.calls.get_mut(&upstream_index) {
            out.insert("index".into(), json!(open.slot));
            // A name that did not come with the first fragment is sent once, later.
            if let Some(name) = name.filter(|_| !open.name_sent) {
                open.name_sent = true;
                function_out.insert("name".into(), json!(name));
            }
            if let Some(arguments) = arguments {
                function_out.insert("arguments".into(), arguments);
            }
        }
        function_out.extend(function);
        if !function_out.is_empty() {
            out.insert("function".into(), Value::Object(function_out));
        }
        out.extend(rest);
        Value::Object(out)
    }
}

/// Random padding that brings the chunk's length to a multiple of 16 bytes, so
/// that the length of a frame does not tell the length of its delta.
fn obfuscation(chunk: &Map<String, Value>) -> String {
    let length = serde_json::to_string(chunk).map_or(0, |text| text.len());
    let padding = 16 - length % 16;
    uuid::Uuid::new_v4().simple().to_string()[..padding].to_owned()
}

/// The value the stream's first chunk had (or got) for `key`, on every chunk.
fn first_chunk_value(
    first: &mut Option<Value>,
    rest: &mut Map<String, Value>,
    key: &str,
    default: impl FnOnce() -> Value,
) -> Value {
    let sent = rest.remove(key).filter(|value| !value.is_null());
    first
        .get_or_insert_with(|| sent.unwrap_or_else(default))
        .clone()
}
