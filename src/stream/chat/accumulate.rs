//! The `chat.completion` a stream of normalized chunks adds up to, for storing
//! a streamed completion (`store: true`). Deltas are accumulated the way
//! openai-python does it: per choice, `content`, `refusal` and
//! `reasoning_content` strings are concatenated, tool-call fragments merged by
//! their `index` (id, type and name from the first fragment, arguments
//! concatenated); the last non-null `finish_reason` and `usage` win. Error
//! chunks carry nothing and are skipped.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::stream::chat::normalize::normalize_completion;

/// Accumulates one stream's chunks.
#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    /// `id`, `created`, `model`, `service_tier`, `system_fingerprint` as the chunks carried them.
    top: Map<String, Value>,
    choices: BTreeMap<u64, Choice>,
    usage: Option<Value>,
}

#[derive(Debug, Clone, Default)]
struct Choice {
    role: Option<Value>,
    content: Option<String>,
    refusal: Option<String>,
    reasoning: Option<String>,
    /// By the call's `index`: (id, type, name, arguments).
    calls: BTreeMap<u64, (Value, Value, String, String)>,
    finish_reason: Option<Value>,
    logprobs: Option<Value>,
}

impl Accumulator {
    /// Takes one normalized chunk into account.
    pub fn observe(&mut self, chunk: &Value) {
        let Some(object) = chunk.as_object() else {
            return;
        };
        if object.get("error").is_some_and(|error| !error.is_null()) {
            return;
        }
        for key in [
            "id",
            "created",
            "model",
            "service_tier",
            "system_fingerprint",
        ] {
            if let Some(value) = object.get(key) {
                let first = key == "id" || key == "created";
                if !(first && self.top.contains_key(key)) {
                    self.top.insert(key.to_owned(), value.clone());
                }
            }
        }
        if let Some(usage) = object.get("usage").filter(|usage| usage.is_object()) {
            self.usage = Some(usage.clone());
        }
        for choice in object
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            let state = self.choices.entry(index).or_default();
            if let Some(delta) = choice.get("delta").and_then(Value::as_object) {
                state.absorb(delta);
            }
            if let Some(reason) = choice
                .get("finish_reason")
                .filter(|reason| !reason.is_null())
            {
                state.finish_reason = Some(reason.clone());
            }
            if let Some(logprobs) = choice
                .get("logprobs")
                .filter(|logprobs| !logprobs.is_null())
            {
                state.logprobs = Some(logprobs.clone());
            }
        }
    }

    /// The completion so far, in OpenAI's shape (`requested_model` fills a
    /// missing `model`).
    pub fn completion(&self, requested_model: &str) -> Value {
        let mut body = self.top.clone();
        let choices: Vec<Value> = self
            .choices
            .iter()
            .map(|(index, choice)| choice.to_json(*index))
            .collect();
        body.insert("choices".into(), Value::Array(choices));
        if let Some(usage) = &self.usage {
            body.insert("usage".into(), usage.clone());
        }
        normalize_completion(Value::Object(body), requested_model)
    }
}

impl Choice {
    fn absorb(&mut self, delta: &Map<String, Value>) {
        if let Some(role) = delta.get("role").filter(|role| !role.is_null()) {
            self.role.get_or_insert_with(|| role.clone());
        }
        for (key, target) in [
            ("content", &mut self.content),
            ("refusal", &mut self.refusal),
            ("reasoning_content", &mut self.reasoning),
        ] {
            if let Some(text) = delta.get(key).and_then(Value::as_str) {
                target.get_or_insert_with(String::new).push_str(text);
            }
        }
        for (position, call) in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let index = call
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            let entry = self
                .calls
                .entry(index)
                .or_insert_with(|| (Value::Null, json!("function"), String::new(), String::new()));
            if let Some(id) = call.get("id").filter(|id| id.is_string()) {
                entry.0 = id.clone();
            }
            if let Some(kind) = call.get("type").filter(|kind| kind.is_string()) {
                entry.1 = kind.clone();
            }
            if let Some(name) = call.pointer("/function/name").and_then(Value::as_str) {
                if entry.2.is_empty() {
                    entry.2 = name.to_owned();
                }
            }
            if let Some(arguments) = call.pointer("/function/arguments").and_then(Value::as_str) {
                entry.3.push_str(arguments);
            }
        }
    }

    fn to_json(&self, index: u64) -> Value {
        let mut message = Map::new();
        message.insert(
            "role".into(),
            self.role.clone().unwrap_or_else(|| json!("assistant")),
        );
        message.insert(
            "content".into(),
            self.content.clone().map_or(Value::Null, Value::String),
        );
        if !self.calls.is_empty() {
            let calls = self
                .calls
                .values()
                .map(|(id, kind, name, arguments)| {
                    json!({"id": id, "type": kind, "function": {"name": name, "arguments": arguments}})
                })
                .collect();
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        message.insert(
            "refusal".into(),
            self.refusal
                .clone()
                .filter(|refusal| !refusal.is_empty())
                .map_or(Value::Null, Value::String),
        );
        if let Some(reasoning) = &self.reasoning {
            message.insert("reasoning_content".into(), json!(reasoning));
        }
        json!({
            "index": index,
            "message": message,
            "logprobs": self.logprobs.clone().unwrap_or(Value::Null),
            "finish_reason": self.finish_reason.clone().unwrap_or(Value::Null),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_add_up_to_the_completion_openai_would_have_answered() {
        let mut accumulator = Accumulator::default();
        let chunks = [
            json!({"id": "chatcmpl-1", "created": 5, "model": "m", "system_fingerprint": "fp_1",
                   "choices": [{"index": 0, "delta": {"role": "assistant", "content": null,
                   "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}],
                   "refusal": null}, "finish_reason": null}]}),
            json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":"}}]}}]}),
            json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}}]}),
            json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"error": {"message": "ignored"}}),
            json!({"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}),
        ];
        for chunk in &chunks {
            accumulator.observe(chunk);
        }
        let completion = accumulator.completion("requested");
        assert_eq!(completion["id"], "chatcmpl-1");
        assert_eq!(completion["object"], "chat.completion");
        assert_eq!(completion["model"], "m");
        assert_eq!(completion["system_fingerprint"], "fp_1");
        let message = &completion["choices"][0]["message"];
        assert!(message["content"].is_null());
        assert_eq!(message["tool_calls"][0]["id"], "call_1");
        assert_eq!(
            message["tool_calls"][0]["function"]["arguments"],
            "{\"a\":1}"
        );
        assert_eq!(completion["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(completion["usage"]["total_tokens"], 5);
    }

    #[test]
    fn text_of_several_choices_is_kept_apart() {
        let mut accumulator = Accumulator::default();
        for (index, text) in [(0, "a"), (1, "b"), (0, "c")] {
            accumulator
                .observe(&json!({"choices": [{"index": index, "delta": {"content": text}}]}));
        }
        let completion = accumulator.completion("m");
        assert_eq!(completion["choices"][0]["message"]["content"], "ac");
        assert_eq!(completion["choices"][1]["message"]["content"], "b");
        assert_eq!(completion["choices"][1]["index"], 1);
    }
}
