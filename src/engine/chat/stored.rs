//! Stored chat completions (`store: true`): what is kept and how it reads back.
//!
//! [`Recorder`] is made from the request when it asks to be stored; it sees the
//! answer (the whole completion, or every streamed chunk, accumulated) and saves
//! it before the client gets the end of it, so a read right after finds it. A
//! stored completion gets Portico's own id (`chatcmpl-` and 48 hex digits) in
//! place of the backend's: some local servers draw ids from a few hundred
//! numbers (Ollama), and the id is the key the completion is read back by.
//!
//! A stored completion reads back in the shape OpenAI's retrieve and list
//! endpoints answer, which is not the create answer's: `{object, id, model,
//! created, request_id, tool_choice, usage {total_tokens, completion_tokens,
//! prompt_tokens}, seed, top_p, temperature, presence_penalty,
//! frequency_penalty, system_fingerprint, input_user, service_tier, tools,
//! metadata, choices [{index, message {content, role, tool_calls,
//! function_call}, finish_reason, logprobs}], response_format}`, the request's
//! sampling parameters with OpenAI's defaults (1.0, 1.0, 0.0, 0.0) and its
//! `seed` (a random one when the request had none, as OpenAI reports the seed it
//! drew). Its messages are the request's, each `{id: "<completion id>-<n>",
//! role, content, content_parts, name}`: string content has `content_parts:
//! null`; an array of parts becomes `content_parts` (every part with `text`,
//! `image_url`, `input_audio` and `file`, null where absent) and a `content`
//! that joins the parts' texts with spaces. A completion the backend counted
//! no tokens for (streamed without `include_usage`) gets an estimate, about
//! four characters a token, rather than zeros.

use serde_json::{json, Map, Value};
use std::sync::Arc;

use crate::store::chat_completions::{ChatCompletionStore, StoredChatCompletion};
use crate::store::error::StoreResult;
use crate::stream::chat::accumulate::Accumulator;
use crate::wire::chat::legacy_functions::{completion_to_legacy, uses_legacy_functions};
use crate::wire::error::{ApiError, ApiResult};
use crate::wire::validate::validate_metadata;

/// Saves one completion when the request asked for `store: true`.
#[derive(Debug, Clone)]
pub struct Recorder {
    id: String,
    completions: Arc<dyn ChatCompletionStore>,
    project: String,
    requested_model: String,
    request: Map<String, Value>,
    accumulator: Accumulator,
    legacy_functions: bool,
}

/// Checks `store` and `metadata` (OpenAI's rules apply even when not storing).
pub fn validate_store_fields(body: &Value) -> ApiResult<bool> {
    if let Some(metadata) = body.get("metadata").filter(|metadata| !metadata.is_null()) {
        let Value::Object(metadata) = metadata else {
            return Err(ApiError::invalid_with_code(
                "Invalid type for 'metadata': expected an object.",
                Some("metadata".to_owned()),
                "invalid_type",
            ));
        };
        validate_metadata(metadata, "metadata")?;
    }
    match body.get("store") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(store)) => Ok(*store),
        Some(_) => Err(ApiError::invalid_with_code(
            "Invalid type for 'store': expected a boolean.",
            Some("store".to_owned()),
            "invalid_type",
        )),
    }
}

impl Recorder {
    /// A recorder for a request that asked to be stored (`None` otherwise).
    pub fn for_request(
        completions: &Arc<dyn ChatCompletionStore>,
        project: &str,
        body: &Value,
        requested_model: &str,
    ) -> ApiResult<Option<Self>> {
        if !validate_store_fields(body)? {
            return Ok(None);
        }
        Ok(Some(Self {
            id: crate::wire::ids::new_id("chatcmpl-"),
            completions: completions.clone(),
            project: project.to_owned(),
            requested_model: requested_model.to_owned(),
            request: body.as_object().cloned().unwrap_or_default(),
            accumulator: Accumulator::default(),
            legacy_functions: uses_legacy_functions(body),
        }))
    }

    /// The id the completion is stored under, which the answer must carry
    /// (`ChunkNormalizer::with_id` puts it on every chunk; [`save`](Self::save)
    /// puts it in a whole completion).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Takes one streamed (normalized) chunk into account.
    pub fn observe(&mut self, chunk: &Value) {
        self.accumulator.observe(chunk);
    }

    /// Stores the completion the observed chunks add up to; a failure is logged
    /// (the client already has the answer).
    pub async fn save_stream(&self) {
        let mut completion = self.accumulator.completion(&self.requested_model);
        if self.legacy_functions {
            completion_to_legacy(&mut completion);
        }
        if let Err(error) = self.save(&mut completion).await {
            tracing::error!(%error, "could not store the streamed chat completion");
        }
    }

    /// Stores `completion` (a `chat.completion` in OpenAI's shape) under
    /// [`id`](Self::id), which it then carries.
    pub async fn save(&self, completion: &mut Value) -> StoreResult<()> {
        if let Some(object) = completion.as_object_mut() {
            object.insert("id".into(), Value::String(self.id.clone()));
        }
        let completion = &*completion;
        let text = |key: &str| {
            completion
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let stored = StoredChatCompletion {
            id: self.id.clone(),
            created_at: completion
                .get("created")
                .and_then(Value::as_i64)
                .unwrap_or_else(crate::wire::ids::unix_now),
            requested_model: self.requested_model.clone(),
            model: text("model").to_owned(),
            metadata: match self.request.get("metadata") {
                Some(Value::Object(metadata)) => metadata.clone(),
                _ => Map::new(),
            },
            messages: match self.request.get("messages") {
                Some(Value::Array(messages)) => messages.clone(),
                _ => Vec::new(),
            },
            body: stored_view(&self.request, completion),
        };
        self.completions.insert(&self.project, &stored).await
    }
}

/// Usage for a completion the backend counted nothing for (a stream whose
/// client did not ask for `include_usage`, so no usage chunk came): about four
/// characters a token, the request's messages and the answer's text and calls.
fn estimated_usage(request: &Map<String, Value>, completion: &Value) -> Value {
    let prompt = request
        .get("messages")
        .map(Value::to_string)
        .unwrap_or_default();
    let answer: String = completion
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|choice| choice.get("message"))
        .flat_map(|message| {
            let text = message
                .get("content")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let calls = message
                .get("tool_calls")
                .map(Value::to_string)
                .unwrap_or_default();
            [text.to_owned(), calls]
        })
        .collect();
    let prompt_tokens = crate::wire::chat_events::estimate_tokens(&prompt);
    let completion_tokens = crate::wire::chat_events::estimate_tokens(&answer);
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    })
}

/// The completion as retrieve and list show it (see the module doc).
fn stored_view(request: &Map<String, Value>, completion: &Value) -> Value {
    let param = |key: &str, default: Value| {
        request
            .get(key)
            .filter(|value| !value.is_null())
            .cloned()
            .unwrap_or(default)
    };
    let counted = |usage: &Value, key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    let usage = completion
        .get("usage")
        .filter(|usage| counted(usage, "prompt_tokens") + counted(usage, "completion_tokens") > 0)
        .cloned()
        .unwrap_or_else(|| estimated_usage(request, completion));
    let count = |key: &str| usage.get(key).cloned().unwrap_or(json!(0));
    let seed = param("seed", json!(random_seed()));
    let choices: Vec<Value> = completion
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(stored_choice)
        .collect();
    json!({
        "object": "chat.completion",
        "id": completion.get("id"),
        "model": completion.get("model"),
        "created": completion.get("created"),
        "request_id": crate::wire::ids::new_id("req_"),
        "tool_choice": param("tool_choice", Value::Null),
        "usage": {
            "total_tokens": count("total_tokens"),
            "completion_tokens": count("completion_tokens"),
            "prompt_tokens": count("prompt_tokens"),
        },
        "seed": seed,
        "top_p": param("top_p", json!(1.0)),
        "temperature": param("temperature", json!(1.0)),
        "presence_penalty": param("presence_penalty", json!(0.0)),
        "frequency_penalty": param("frequency_penalty", json!(0.0)),
        "system_fingerprint": completion.get("system_fingerprint").cloned().unwrap_or(Value::Null),
        "input_user": param("user", Value::Null),
        "service_tier": completion.get("service_tier").cloned().unwrap_or(Value::Null),
        "tools": param("tools", Value::Null),
        "metadata": {},
        "choices": choices,
        "response_format": param("response_format", Value::Null),
    })
}

fn stored_choice(choice: &Value) -> Value {
    let message = choice.get("message").cloned().unwrap_or_else(|| json!({}));
    let field = |key: &str| message.get(key).cloned().unwrap_or(Value::Null);
    let tool_calls = match message.get("tool_calls") {
        Some(Value::Array(calls)) if !calls.is_empty() => Value::Array(
            calls
                .iter()
                .map(|call| {
                    json!({
                        "type": call.get("type").cloned().unwrap_or_else(|| json!("function")),
                        "function": call.get("function").cloned().unwrap_or(Value::Null),
                        "id": call.get("id").cloned().unwrap_or(Value::Null),
                    })
                })
                .collect(),
        ),
        _ => Value::Null,
    };
    let mut stored_message = Map::new();
    stored_message.insert("content".into(), field("content"));
    stored_message.insert("role".into(), field("role"));
    stored_message.insert("tool_calls".into(), tool_calls);
    stored_message.insert("function_call".into(), field("function_call"));
    if let Some(refusal) = message.get("refusal").filter(|refusal| !refusal.is_null()) {
        stored_message.insert("refusal".into(), refusal.clone());
    }
    json!({
        "index": choice.get("index").cloned().unwrap_or(json!(0)),
        "message": stored_message,
        "finish_reason": choice.get("finish_reason").cloned().unwrap_or(Value::Null),
        "logprobs": choice.get("logprobs").cloned().unwrap_or(Value::Null),
    })
}

/// A seed in OpenAI's range (a signed 64-bit integer).
fn random_seed() -> i64 {
    let (high, _) = uuid::Uuid::new_v4().as_u64_pair();
    high as i64
}

/// The request messages of a stored completion as its message list shows them.
pub fn message_items(completion_id: &str, messages: &[Value]) -> Vec<Value> {
    messages
        .iter()
        .enumerate()
        .map(|(position, message)| {
            let (content, parts) = match message.get("content") {
                Some(Value::Array(parts)) => {
                    let texts: Vec<&str> = parts
                        .iter()
                        .map(|part| part.get("text").and_then(Value::as_str).unwrap_or_default())
                        .collect();
                    let parts = parts.iter().map(content_part).collect();
                    (json!(texts.join(" ")), Value::Array(parts))
                }
                Some(content) => (content.clone(), Value::Null),
                None => (Value::Null, Value::Null),
            };
            let mut item = Map::new();
            item.insert("id".into(), json!(format!("{completion_id}-{position}")));
            item.insert(
                "role".into(),
                message.get("role").cloned().unwrap_or(Value::Null),
            );
            item.insert("content".into(), content);
            item.insert("content_parts".into(), parts);
            item.insert(
                "name".into(),
                message.get("name").cloned().unwrap_or(Value::Null),
            );
            for key in ["tool_calls", "tool_call_id"] {
                if let Some(value) = message.get(key) {
                    item.insert(key.into(), value.clone());
                }
            }
            Value::Object(item)
        })
        .collect()
}

fn content_part(part: &Value) -> Value {
    let field = |key: &str| part.get(key).cloned().unwrap_or(Value::Null);
    json!({
        "type": field("type"),
        "text": field("text"),
        "image_url": field("image_url"),
        "input_audio": field("input_audio"),
        "file": field("file"),
    })
}

#[cfg(test)]
#[path = "stored_tests.rs"]
mod tests;
