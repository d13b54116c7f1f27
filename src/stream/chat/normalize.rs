//! Chat Completions answers brought to OpenAI's exact shape. Pure functions over
//! JSON, used for answers forwarded from HTTP backends and for the ones
//! synthesized in process, so both look the same. Every value the backend sent
//! is kept; only what is missing is added, with OpenAI's defaults, and the known
//! quirks of local servers are fixed.
//!
//! A non-streamed `chat.completion` becomes, keys in this order (the order of
//! OpenAI's recorded answers), the backend's other keys after them:
//!
//! * `id` (`chatcmpl-…` when missing), `object: "chat.completion"`, `created`
//!   (now when missing), `model` (the requested one when missing);
//! * `choices[i]`: `index` (its position when missing), `message` {`role`
//!   ("assistant"), `content` (null when missing, and when empty but the
//!   message has tool calls or a refusal), `tool_calls` (only when sent, each
//!   with an `id`, `type: "function"` and string `arguments`), `refusal: null`,
//!   `annotations: []`}, `logprobs: null`, `finish_reason` (`tool_calls` when
//!   the message has calls, else `stop`, when missing);
//! * `usage` (zeros when missing), see [`normalize_usage`];
//! * `service_tier: "default"` and `system_fingerprint: null` when absent.
//!
//! A streamed `chat.completion.chunk` ([`ChunkNormalizer`]) becomes `id`,
//! `object`, `created`, `model`, `service_tier`, `system_fingerprint`, `choices`,
//! then `usage` (null on every chunk when the client asked for
//! `stream_options.include_usage` and the chunk has none), then the rest, then
//! `obfuscation` (OpenAI's random padding, on every chunk unless the client sent
//! `stream_options.include_obfuscation: false`):
//!
//! * `id` and `created` are the first chunk's on every chunk (generated when the
//!   first chunk has none);
//! * `choices[i]` is `{index, delta, logprobs: null, finish_reason: null}`
//!   when those are absent;
//! * openai-python concatenates deltas field by field, so `delta.role` appears
//!   only in the first delta of a choice (added there as "assistant" when the
//!   backend sent none, with `refusal: null`), and a tool call's `id`, `type` and
//!   `function.name` only in its first fragment (llama-cpp-python repeats them in
//!   every delta). The first fragment always has an `id`, `type: "function"`,
//!   `function.name` and `function.arguments` (possibly empty).
//! * Tool calls are renumbered 0, 1, 2… per choice in order of appearance: a
//!   fragment with a new `id` and a `name` at an index already in use is a new
//!   call (Ollama reuses index 0 for every call of a parallel batch).
//! * A chunk with a non-null top-level `error` is left exactly as it is.
//!
//! What one chunk cannot know — that a role-only first chunk opens a tool-call
//! answer, which OpenAI starts with one merged chunk — is fixed one chunk later
//! by [`FirstChunkHold`].

mod chunk;
mod hold;

use serde_json::{json, Map, Value};

use crate::wire::ids::{new_id, unix_now};

pub use chunk::ChunkNormalizer;
pub use hold::FirstChunkHold;

/// The `usage` token details OpenAI sends, each defaulting to 0 (`text_tokens`
/// is derived, see [`normalize_usage`]). OpenAI's text models leave out
/// `text_tokens`, `image_tokens` and `cache_write_tokens`; its audio models and
/// prompt caching send them, so they are always there.
const PROMPT_DETAILS: [&str; 5] = [
    "cached_tokens",
    "audio_tokens",
    "text_tokens",
    "image_tokens",
    "cache_write_tokens",
];
const COMPLETION_DETAILS: [&str; 5] = [
    "reasoning_tokens",
    "audio_tokens",
    "accepted_prediction_tokens",
    "rejected_prediction_tokens",
    "text_tokens",
];

/// A non-streamed answer in OpenAI's shape; `requested_model` fills a missing
/// `model`. Anything but an object is returned as it is.
pub fn normalize_completion(body: Value, requested_model: &str) -> Value {
    let Value::Object(mut rest) = body else {
        return body;
    };
    let mut out = Map::new();
    out.insert("id".into(), required(&mut rest, "id", new_completion_id));
    rest.remove("object");
    out.insert("object".into(), json!("chat.completion"));
    out.insert("created".into(), required(&mut rest, "created", now));
    out.insert(
        "model".into(),
        required(&mut rest, "model", || json!(requested_model)),
    );
    let choices = match rest.remove("choices") {
        Some(Value::Array(choices)) => choices
            .into_iter()
            .enumerate()
            .map(|(position, choice)| completion_choice(choice, position))
            .collect(),
        _ => Vec::new(),
    };
    out.insert("choices".into(), Value::Array(choices));
    let usage = required(&mut rest, "usage", || json!({}));
    out.insert("usage".into(), normalize_usage(usage));
    fill_service_keys(&mut rest, &mut out);
    out.extend(rest);
    Value::Object(out)
}

/// A `usage` object with `total_tokens` and both token-details objects filled
/// (missing counts are 0; `total_tokens` defaults to the sum). A missing
/// `text_tokens` is what the other details leave: prompt tokens that are not
/// audio or image, completion tokens that are not audio or reasoning (OpenAI's
/// own counts add up this way). Null stays null.
pub fn normalize_usage(usage: Value) -> Value {
    let Value::Object(mut rest) = usage else {
        return usage;
    };
    let mut out = Map::new();
    let prompt = required(&mut rest, "prompt_tokens", || json!(0));
    let completion = required(&mut rest, "completion_tokens", || json!(0));
    let prompt_count = prompt.as_u64().unwrap_or(0);
    let completion_count = completion.as_u64().unwrap_or(0);
    out.insert("prompt_tokens".into(), prompt);
    out.insert("completion_tokens".into(), completion);
    out.insert(
        "total_tokens".into(),
        required(&mut rest, "total_tokens", || {
            json!(prompt_count + completion_count)
        }),
    );
    for (key, names, total, not_text) in [
        (
            "prompt_tokens_details",
            &PROMPT_DETAILS[..],
            prompt_count,
            ["audio_tokens", "image_tokens"],
        ),
        (
            "completion_tokens_details",
            &COMPLETION_DETAILS[..],
            completion_count,
            ["audio_tokens", "reasoning_tokens"],
        ),
    ] {
        let details = required(&mut rest, key, || json!({}));
        out.insert(key.into(), token_details(details, names, total, not_text));
    }
    out.extend(rest);
    Value::Object(out)
}

fn completion_choice(choice: Value, position: usize) -> Value {
    let Value::Object(mut rest) = choice else {
        return choice;
    };
    let mut out = Map::new();
    out.insert(
        "index".into(),
        required(&mut rest, "index", || json!(position)),
    );
    let message = match rest.remove("message") {
        Some(Value::Object(message)) => message,
        _ => Map::new(),
    };
    let message = completion_message(message);
    let has_calls = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .is_some_and(|calls| !calls.is_empty());
    out.insert("message".into(), Value::Object(message));
    out.insert(
        "logprobs".into(),
        optional(&mut rest, "logprobs", Value::Null),
    );
    let finish_reason = if has_calls { "tool_calls" } else { "stop" };
    out.insert(
        "finish_reason".into(),
        required(&mut rest, "finish_reason", || json!(finish_reason)),
    );
    out.extend(rest);
    Value::Object(out)
}

fn completion_message(mut rest: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "role".into(),
        required(&mut rest, "role", || json!("assistant")),
    );
    out.insert(
        "content".into(),
        optional(&mut rest, "content", Value::Null),
    );
    if let Some(calls) = rest.remove("tool_calls") {
        let calls = match calls {
            Value::Array(calls) => {
                Value::Array(calls.into_iter().map(completion_tool_call).collect())
            }
            other => other,
        };
        out.insert("tool_calls".into(), calls);
    }
    out.insert(
        "refusal".into(),
        optional(&mut rest, "refusal", Value::Null),
    );
    out.insert(
        "annotations".into(),
        optional(&mut rest, "annotations", json!([])),
    );
    out.extend(rest);
    // OpenAI's content is null, not empty, when the answer is only tool calls or a refusal.
    let answered_otherwise = out
        .get("tool_calls")
        .and_then(Value::as_array)
        .is_some_and(|calls| !calls.is_empty())
        || out
            .get("refusal")
            .and_then(Value::as_str)
            .is_some_and(|refusal| !refusal.is_empty());
    if answered_otherwise && out.get("content").and_then(Value::as_str) == Some("") {
        out.insert("content".into(), Value::Null);
    }
    out
}

fn completion_tool_call(call: Value) -> Value {
    let Value::Object(mut rest) = call else {
        return call;
    };
    let mut out = Map::new();
    let id = non_empty_string(rest.remove("id")).unwrap_or_else(|| new_id("call_"));
    out.insert("id".into(), json!(id));
    out.insert(
        "type".into(),
        required(&mut rest, "type", || json!("function")),
    );
    let mut function = match rest.remove("function") {
        Some(Value::Object(function)) => function,
        _ => Map::new(),
    };
    let mut function_out = Map::new();
    function_out.insert("name".into(), required(&mut function, "name", || json!("")));
    let arguments = match function.remove("arguments") {
        Some(Value::Null) | None => json!("{}"),
        Some(arguments) => arguments_string(arguments),
    };
    function_out.insert("arguments".into(), arguments);
    function_out.extend(function);
    out.insert("function".into(), Value::Object(function_out));
    out.extend(rest);
    Value::Object(out)
}

/// `service_tier` ("default") and `system_fingerprint` (null) when absent.
fn fill_service_keys(rest: &mut Map<String, Value>, out: &mut Map<String, Value>) {
    out.insert(
        "service_tier".into(),
        optional(rest, "service_tier", json!("default")),
    );
    out.insert(
        "system_fingerprint".into(),
        optional(rest, "system_fingerprint", Value::Null),
    );
}

/// The details in `names` order (0 when missing), the backend's others after
/// them; `text_tokens` defaults to `total` less the `not_text` counts.
fn token_details(details: Value, names: &[&str], total: u64, not_text: [&str; 2]) -> Value {
    let mut rest = match details {
        Value::Object(details) => details,
        _ => Map::new(),
    };
    let mut out = Map::new();
    for name in names {
        let value = if *name == "text_tokens" {
            let counted = |key: &str| {
                out.get(key)
                    .or_else(|| rest.get(key))
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
            };
            let text = total.saturating_sub(not_text.iter().map(|key| counted(key)).sum());
            required(&mut rest, name, || json!(text))
        } else {
            required(&mut rest, name, || json!(0))
        };
        out.insert((*name).into(), value);
    }
    out.extend(rest);
    Value::Object(out)
}

/// Takes `key` out of `rest`; the default when it is absent or null.
fn required(rest: &mut Map<String, Value>, key: &str, default: impl FnOnce() -> Value) -> Value {
    rest.remove(key)
        .filter(|value| !value.is_null())
        .unwrap_or_else(default)
}

/// Takes `key` out of `rest`; the default only when it is absent (null is kept).
fn optional(rest: &mut Map<String, Value>, key: &str, default: Value) -> Value {
    rest.remove(key).unwrap_or(default)
}

fn non_empty_string(value: Option<Value>) -> Option<String> {
    match value {
        Some(Value::String(text)) if !text.is_empty() => Some(text),
        _ => None,
    }
}

/// Tool-call arguments are a JSON string at OpenAI; some servers send an object.
fn arguments_string(arguments: Value) -> Value {
    match arguments {
        Value::String(_) => arguments,
        other => Value::String(other.to_string()),
    }
}

fn new_completion_id() -> Value {
    json!(new_id("chatcmpl-"))
}

fn now() -> Value {
    json!(unix_now())
}

#[cfg(test)]
#[path = "normalize_tests.rs"]
mod tests;
