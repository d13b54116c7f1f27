//! How Responses items become Chat Completions messages for a backend, and how
//! Responses tool / format shapes become their Chat equivalents. The rules:
//! instructions are a leading system message (only the current request's — they
//! are not inherited along a chain); `developer` is sent as `system` (local chat
//! templates rarely know it); consecutive assistant text and `function_call`
//! items form one assistant message with `tool_calls`; `function_call_output`
//! becomes a `tool` message with the same call id; reasoning items are not sent.
//! An assistant message that only calls tools has `content: ""`, not null:
//! llama-cpp-python's server rejects null there, and every server takes "".

use serde_json::{json, Value};

/// Chat messages for `items`, after an optional system `instructions` message.
pub fn chat_messages(instructions: Option<&str>, items: &[Value]) -> Vec<Value> {
    let mut messages = Vec::with_capacity(items.len() + 1);
    if let Some(instructions) = instructions.filter(|text| !text.is_empty()) {
        messages.push(json!({"role": "system", "content": instructions}));
    }
    // Whether the last message is an assistant message that later function calls may join.
    let mut assistant_open = false;
    for item in items {
        match item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message")
        {
            "message" => {
                let role = item.get("role").and_then(Value::as_str).unwrap_or("user");
                let role = if role == "developer" { "system" } else { role };
                messages.push(json!({"role": role, "content": message_content(item)}));
                assistant_open = role == "assistant";
            }
            "function_call" => {
                let call = json!({
                    "id": item.get("call_id").cloned().unwrap_or(Value::Null),
                    "type": "function",
                    "function": {
                        "name": item.get("name").cloned().unwrap_or(Value::Null),
                        "arguments": item.get("arguments").cloned().unwrap_or_else(|| Value::String(String::new())),
                    }
                });
                let joined = assistant_open
                    && messages
                        .last_mut()
                        .and_then(Value::as_object_mut)
                        .map(|message| {
                            let calls = message
                                .entry("tool_calls")
                                .or_insert_with(|| Value::Array(Vec::new()));
                            if let Some(calls) = calls.as_array_mut() {
                                calls.push(call.clone());
                            }
                        })
                        .is_some();
                if !joined {
                    messages
                        .push(json!({"role": "assistant", "content": "", "tool_calls": [call]}));
                }
                assistant_open = true;
            }
            "function_call_output" => {
                messages.push(json!({
                    "role": "tool",
                    "tool_call_id": item.get("call_id").cloned().unwrap_or(Value::Null),
                    "content": output_text(item.get("output")),
                }));
                assistant_open = false;
            }
            _ => {}
        }
    }
    messages
}

/// A message item's content: a plain string when it is only text (what every
/// local server accepts), else Chat content parts (text and image URLs).
fn message_content(item: &Value) -> Value {
    let parts: &[Value] = item
        .get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let only_text = parts
        .iter()
        .all(|part| part.get("text").is_some() || part.get("refusal").is_some());
    if only_text {
        let text: String = parts
            .iter()
            .filter_map(|part| {
                part.get("text")
                    .or_else(|| part.get("refusal"))
                    .and_then(Value::as_str)
            })
            .collect();
        return Value::String(text);
    }
    Value::Array(
        parts
            .iter()
            .filter_map(|part| match part.get("type").and_then(Value::as_str) {
                Some("input_image") => Some(json!({
                    "type": "image_url",
                    "image_url": {"url": part.get("image_url").cloned().unwrap_or(Value::Null)}
                })),
                _ => part
                    .get("text")
                    .map(|text| json!({"type": "text", "text": text})),
            })
            .collect(),
    )
}

fn output_text(output: Option<&Value>) -> String {
    match output {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Responses' flat function tools → Chat's nested ones.
pub fn chat_tools(tools: &[Value]) -> Vec<Value> {
    tools
        .iter()
        .filter(|tool| tool.get("type").and_then(Value::as_str) == Some("function"))
        .map(|tool| {
            let mut function = serde_json::Map::new();
            for field in ["name", "description", "parameters", "strict"] {
                if let Some(value) = tool.get(field).filter(|value| !value.is_null()) {
                    function.insert(field.to_owned(), value.clone());
                }
            }
            json!({"type": "function", "function": function})
        })
        .collect()
}

/// Responses' `tool_choice` → Chat's.
pub fn chat_tool_choice(choice: &Value) -> Value {
    match choice.get("type").and_then(Value::as_str) {
        Some("function") => {
            json!({"type": "function", "function": {"name": choice.get("name").cloned().unwrap_or(Value::Null)}})
        }
        Some("allowed_tools") => Value::String(
            choice
                .get("mode")
                .and_then(Value::as_str)
                .unwrap_or("auto")
                .to_owned(),
        ),
        _ => choice.clone(),
    }
}

/// Responses' `text.format` → Chat's `response_format` (`None` for plain text).
pub fn chat_response_format(text: Option<&Value>) -> Option<Value> {
    let format = text?.get("format")?;
    match format.get("type").and_then(Value::as_str)? {
        "json_object" => Some(json!({"type": "json_object"})),
        "json_schema" => {
            let mut schema = serde_json::Map::new();
            for field in ["name", "schema", "strict", "description"] {
                if let Some(value) = format.get(field) {
                    schema.insert(field.to_owned(), value.clone());
                }
            }
            Some(json!({"type": "json_schema", "json_schema": schema}))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_calls_join_the_assistant_message_and_outputs_become_tool_messages() {
        let items = vec![
            json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather?"}]}),
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]}),
            json!({"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"}),
            json!({"type": "function_call", "call_id": "call_2", "name": "get_time", "arguments": "{}"}),
            json!({"type": "function_call_output", "call_id": "call_1", "output": "sunny"}),
            json!({"type": "reasoning", "id": "rs_1", "summary": []}),
        ];
        let messages = chat_messages(Some("Be brief."), &items);
        assert_eq!(messages.len(), 4);
        assert_eq!(
            messages[0],
            json!({"role": "system", "content": "Be brief."})
        );
        assert_eq!(messages[2]["content"], "Checking.");
        assert_eq!(messages[2]["tool_calls"][1]["id"], "call_2");
        assert_eq!(
            messages[3],
            json!({"role": "tool", "tool_call_id": "call_1", "content": "sunny"})
        );
    }

    #[test]
    fn a_function_call_without_preceding_text_is_its_own_assistant_message() {
        let items = vec![
            json!({"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}),
        ];
        let messages = chat_messages(None, &items);
        assert_eq!(messages[0]["role"], "assistant");
        assert_eq!(messages[0]["content"], "");
    }

    #[test]
    fn tools_choice_and_format_take_the_chat_shape() {
        let tools = chat_tools(&[
            json!({"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": true}),
        ]);
        assert_eq!(
            tools[0],
            json!({"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "strict": true}})
        );
        assert_eq!(
            chat_tool_choice(&json!({"type": "function", "name": "f"})),
            json!({"type": "function", "function": {"name": "f"}})
        );
        let format = chat_response_format(Some(
            &json!({"format": {"type": "json_schema", "name": "n", "schema": {}}}),
        ));
        assert_eq!(
            format,
            Some(json!({"type": "json_schema", "json_schema": {"name": "n", "schema": {}}}))
        );
        assert_eq!(
            chat_response_format(Some(&json!({"format": {"type": "text"}}))),
            None
        );
    }
}
