//! Legacy function calling (`functions` and `function_call` on the request,
//! `message.function_call` and `finish_reason: "function_call"` in the answer),
//! which OpenAI deprecated but still answers. Local servers know only `tools`,
//! so a request that uses `functions` (and no `tools`) is sent to the backend in
//! the tools form, and the answer is brought back to the legacy form:
//!
//! * request: `functions[i]` → `tools[i] = {type: "function", function}`;
//!   `function_call` ("auto", "none", `{name}`) → `tool_choice` ("auto", "none",
//!   `{type: "function", function: {name}}`); an assistant message's
//!   `function_call` → one `tool_calls` entry with a made-up id, and a
//!   `role: "function"` message → `role: "tool"` answering that id;
//! * answer: the first tool call → `function_call {name, arguments}` (legacy
//!   answers carry one call; others are dropped), in the place `tool_calls` had,
//!   and `finish_reason` `tool_calls` → `function_call`; in a stream, every
//!   fragment of call 0 → `delta.function_call` (`name` and `arguments` in the
//!   first, `arguments` after).

use serde_json::{json, Map, Value};

/// Whether the request uses legacy functions (and no tools).
pub fn uses_legacy_functions(body: &Value) -> bool {
    body.get("functions").is_some_and(Value::is_array)
        && body.get("tools").is_none_or(Value::is_null)
}

/// The request in the tools form (see the module doc).
pub fn to_tools_request(body: &Value) -> Value {
    let Some(object) = body.as_object() else {
        return body.clone();
    };
    let mut out = Map::new();
    let mut last_call_id = String::new();
    for (key, value) in object {
        match key.as_str() {
            "functions" => {
                let tools: Vec<Value> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|function| json!({"type": "function", "function": function}))
                    .collect();
                out.insert("tools".into(), Value::Array(tools));
            }
            "function_call" => {
                let choice = match value {
                    Value::Object(call) => {
                        json!({"type": "function", "function": {"name": call.get("name")}})
                    }
                    other => other.clone(),
                };
                out.insert("tool_choice".into(), choice);
            }
            "messages" => {
                let messages: Vec<Value> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .map(|(position, message)| tool_message(message, position, &mut last_call_id))
                    .collect();
                out.insert("messages".into(), Value::Array(messages));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

/// A history message in the tools form; `last_call_id` carries the id of the
/// latest assistant call to the function message that answers it.
fn tool_message(message: &Value, position: usize, last_call_id: &mut String) -> Value {
    let Some(object) = message.as_object() else {
        return message.clone();
    };
    let role = object.get("role").and_then(Value::as_str);
    let mut out = Map::new();
    for (key, value) in object {
        match (role, key.as_str()) {
            (Some("assistant"), "function_call") if value.is_object() => {
                *last_call_id = format!("call_legacy_{position}");
                out.insert(
                    "tool_calls".into(),
                    json!([{"id": last_call_id, "type": "function", "function": value}]),
                );
            }
            (Some("function"), "role") => {
                out.insert("role".into(), json!("tool"));
                out.insert("tool_call_id".into(), json!(last_call_id));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

/// A normalized `chat.completion` in the legacy form.
pub fn completion_to_legacy(completion: &mut Value) {
    for choice in choices_mut(completion) {
        if let Some(Value::Object(message)) = choice.get_mut("message") {
            *message = replace_calls(std::mem::take(message), |calls| {
                calls.first().and_then(|call| call.get("function")).cloned()
            });
        }
        legacy_finish(choice);
    }
}

/// A normalized chunk in the legacy form.
pub fn chunk_to_legacy(chunk: &mut Value) {
    for choice in choices_mut(chunk) {
        if let Some(Value::Object(delta)) = choice.get_mut("delta") {
            *delta = replace_calls(std::mem::take(delta), |fragments| {
                fragments
                    .iter()
                    .find(|fragment| fragment.get("index").and_then(Value::as_u64) == Some(0))
                    .and_then(|fragment| fragment.get("function"))
                    .cloned()
            });
        }
        legacy_finish(choice);
    }
}

fn choices_mut(value: &mut Value) -> impl Iterator<Item = &mut Value> {
    value
        .get_mut("choices")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

/// `message` with `tool_calls` replaced, in place, by the `function_call` that
/// `pick` takes from them (nothing when it takes none).
fn replace_calls(
    message: Map<String, Value>,
    pick: impl Fn(&[Value]) -> Option<Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in message {
        if key != "tool_calls" {
            out.insert(key, value);
            continue;
        }
        let calls = value.as_array().map(Vec::as_slice).unwrap_or_default();
        if let Some(function) = pick(calls) {
            out.insert("function_call".into(), function);
        }
    }
    out
}

fn legacy_finish(choice: &mut Value) {
    if choice.get("finish_reason").and_then(Value::as_str) == Some("tool_calls") {
        choice["finish_reason"] = json!("function_call");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_functions_request_is_sent_as_tools_with_its_history() {
        let body = json!({
            "model": "m", "function_call": {"name": "f"},
            "functions": [{"name": "f", "parameters": {}}],
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": null, "function_call": {"name": "f", "arguments": "{}"}},
                {"role": "function", "name": "f", "content": "42"},
            ],
        });
        assert!(uses_legacy_functions(&body));
        let sent = to_tools_request(&body);
        assert_eq!(
            sent["tool_choice"],
            json!({"type": "function", "function": {"name": "f"}})
        );
        assert_eq!(
            sent["tools"],
            json!([{"type": "function", "function": {"name": "f", "parameters": {}}}])
        );
        assert!(sent.get("functions").is_none() && sent.get("function_call").is_none());
        let call_id = sent["messages"][1]["tool_calls"][0]["id"].clone();
        assert_eq!(
            sent["messages"][1]["tool_calls"][0]["function"]["name"],
            "f"
        );
        assert_eq!(sent["messages"][2]["role"], "tool");
        assert_eq!(sent["messages"][2]["tool_call_id"], call_id);
        assert!(!uses_legacy_functions(
            &json!({"functions": [], "tools": []})
        ));
    }

    #[test]
    fn tool_call_answers_come_back_as_function_calls() {
        let mut completion = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            "refusal": null}, "finish_reason": "tool_calls"}]});
        completion_to_legacy(&mut completion);
        assert_eq!(
            completion["choices"][0],
            json!({"index": 0, "message": {"role": "assistant", "content": null,
                "function_call": {"name": "f", "arguments": "{}"}, "refusal": null}, "finish_reason": "function_call"})
        );
        let mut first = json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": null,
            "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}],
            "refusal": null}}]});
        chunk_to_legacy(&mut first);
        assert_eq!(
            first["choices"][0]["delta"],
            json!({"role": "assistant", "content": null, "function_call": {"name": "f", "arguments": ""}, "refusal": null})
        );
        let mut later = json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": "x"}}]}}]});
        chunk_to_legacy(&mut later);
        assert_eq!(later["choices"][0]["delta"], json!({}));
    }
}
