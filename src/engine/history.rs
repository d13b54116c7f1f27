//! How Responses items become Chat Completions messages for a backend, and how
//! Responses tool / format shapes become their Chat equivalents. The rules:
//! instructions are a leading system message (only the current request's — they
//! are not inherited along a chain); `developer` is sent as `system` (local chat
//! templates rarely know it); consecutive assistant text and `function_call`
//! items form one assistant message with `tool_calls`; `function_call_output`
//! becomes a `tool` message with the same call id; reasoning items are not sent.
//! An assistant message that only calls tools has `content: ""`, not null:
//! llama-cpp-python's server rejects null there, and every server takes "".

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{json, Value};

/// Chat messages for `items`, after an optional system `instructions` message.
pub fn chat_messages(instructions: Option<&str>, items: &[Value]) -> Vec<Value> {
    chat_messages_after_chain(instructions, &[], items)
}

/// Chat messages for a stored chain's items, given as their stored JSON text,
/// followed by `items`. The stored text is read into borrowed views rather than
/// `Value`s: a 1,000-turn chain spent 3.8 ms building `Value`s (SipHashed maps,
/// every key and string allocated) for the few fields a message needs. An item
/// the view cannot take as it is (any shape but text parts, function calls and
/// outputs with string fields) is read as a `Value`, so both give one answer.
pub fn chat_messages_after_chain(
    instructions: Option<&str>,
    chain: &[String],
    items: &[Value],
) -> Vec<Value> {
    let mut messages = Messages {
        list: Vec::with_capacity(chain.len() + items.len() + 1),
        assistant_open: false,
    };
    if let Some(instructions) = instructions.filter(|text| !text.is_empty()) {
        messages
            .list
            .push(json!({"role": "system", "content": instructions}));
    }
    for stored in chain {
        match serde_json::from_str::<StoredItem>(stored) {
            Ok(item) if messages.push_stored(&item) => {}
            _ => {
                if let Ok(item) = serde_json::from_str::<Value>(stored) {
                    messages.push_value(&item);
                }
            }
        }
    }
    for item in items {
        messages.push_value(item);
    }
    messages.list
}

/// The messages built so far.
struct Messages {
    list: Vec<Value>,
    /// Whether the last message is an assistant message that later function calls may join.
    assistant_open: bool,
}

impl Messages {
    fn message(&mut self, role: &str, content: Value) {
        let role = if role == "developer" { "system" } else { role };
        self.list.push(json!({"role": role, "content": content}));
        self.assistant_open = role == "assistant";
    }

    fn function_call(&mut self, call_id: Value, name: Value, arguments: Value) {
        let call = json!({
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": arguments}
        });
        let open = if self.assistant_open {
            self.list.last_mut().and_then(Value::as_object_mut)
        } else {
            None
        };
        match open {
            Some(message) => {
                let calls = message
                    .entry("tool_calls")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Some(calls) = calls.as_array_mut() {
                    calls.push(call);
                }
            }
            None => self
                .list
                .push(json!({"role": "assistant", "content": "", "tool_calls": [call]})),
        }
        self.assistant_open = true;
    }

    fn function_call_output(&mut self, call_id: Value, output: String) {
        self.list.push(json!({
            "role": "tool",
            "tool_call_id": call_id,
            "content": output,
        }));
        self.assistant_open = false;
    }

    fn push_value(&mut self, item: &Value) {
        match item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message")
        {
            "message" => {
                let role = item.get("role").and_then(Value::as_str).unwrap_or("user");
                self.message(role, message_content(item));
            }
            "function_call" => self.function_call(
                item.get("call_id").cloned().unwrap_or(Value::Null),
                item.get("name").cloned().unwrap_or(Value::Null),
                item.get("arguments")
                    .cloned()
                    .unwrap_or_else(|| Value::String(String::new())),
            ),
            "function_call_output" => self.function_call_output(
                item.get("call_id").cloned().unwrap_or(Value::Null),
                output_text(item.get("output")),
            ),
            // What `/v1/responses/compact` left of the earlier conversation.
            "compaction" => {
                let summary = item
                    .get("encrypted_content")
                    .and_then(Value::as_str)
                    .and_then(crate::wire::responses::sealed::summary_of);
                if let Some(summary) = summary {
                    self.message(
                        "assistant",
                        Value::String(format!("Summary of the conversation so far:\n{summary}")),
                    );
                }
            }
            _ => {}
        }
    }

    /// Adds a stored item read as a view; false (nothing added) when the view
    /// cannot say what `push_value` would do with it.
    fn push_stored(&mut self, item: &StoredItem) -> bool {
        match item.kind.as_str().unwrap_or("message") {
            "message" => {
                let parts = item.content.as_deref().unwrap_or_default();
                // Content with other parts than text (images) is left to `push_value`.
                if parts
                    .iter()
                    .any(|part| part.text.is_absent() && part.refusal.is_absent())
                {
                    return false;
                }
                let text: String = parts
                    .iter()
                    .filter_map(|part| match &part.text {
                        Field::Absent => part.refusal.as_str(),
                        present => present.as_str(),
                    })
                    .collect();
                self.message(item.role.as_str().unwrap_or("user"), Value::String(text));
            }
            "function_call" => self.function_call(
                item.call_id.to_value(Value::Null),
                item.name.to_value(Value::Null),
                item.arguments.to_value(Value::String(String::new())),
            ),
            "function_call_output" => self.function_call_output(
                item.call_id.to_value(Value::Null),
                match &item.output {
                    Field::Absent => String::new(),
                    Field::Null => Value::Null.to_string(),
                    Field::Text(text) => text.to_string(),
                },
            ),
            "compaction" => return false,
            _ => {}
        }
        true
    }
}

/// The fields of a stored item that its chat message needs.
#[derive(Deserialize)]
struct StoredItem<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Field<'a>,
    #[serde(default, borrow)]
    role: Field<'a>,
    #[serde(default, borrow)]
    content: Option<Vec<StoredPart<'a>>>,
    #[serde(default, borrow)]
    call_id: Field<'a>,
    #[serde(default, borrow)]
    name: Field<'a>,
    #[serde(default, borrow)]
    arguments: Field<'a>,
    #[serde(default, borrow)]
    output: Field<'a>,
}

#[derive(Deserialize)]
struct StoredPart<'a> {
    #[serde(default, borrow)]
    text: Field<'a>,
    #[serde(default, borrow)]
    refusal: Field<'a>,
}

/// A field that may be a string: absent, null or text (borrowed when it has
/// no escapes). Anything else fails the view, and the item is read as a `Value`.
#[derive(Default)]
enum Field<'a> {
    #[default]
    Absent,
    Null,
    Text(Cow<'a, str>),
}

impl Field<'_> {
    fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The field as `item.get(name).cloned()` gives it, or `absent`.
    fn to_value(&self, absent: Value) -> Value {
        match self {
            Self::Absent => absent,
            Self::Null => Value::Null,
            Self::Text(text) => Value::String(text.to_string()),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor<'a>(std::marker::PhantomData<&'a ()>);

        impl<'de: 'a, 'a> serde::de::Visitor<'de> for FieldVisitor<'a> {
            type Value = Field<'a>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a string or null")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Field<'a>, E> {
                Ok(Field::Text(Cow::Borrowed(text)))
            }

            fn visit_str<E>(self, text: &str) -> Result<Field<'a>, E> {
                Ok(Field::Text(Cow::Owned(text.to_owned())))
            }

            fn visit_unit<E>(self) -> Result<Field<'a>, E> {
                Ok(Field::Null)
            }
        }

        deserializer.deserialize_any(FieldVisitor(std::marker::PhantomData))
    }
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
    fn stored_text_gives_the_same_messages_as_values() {
        let items = vec![
            json!({"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be \"exact\".\n"}]}),
            json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "input_image", "image_url": "data:x"}]}),
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": null}, {"type": "refusal", "refusal": "no"}]}),
            json!({"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}),
            json!({"type": "function_call", "call_id": "call_2", "name": "g"}),
            json!({"type": "function_call_output", "call_id": "call_1", "output": null}),
            json!({"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "sunny"}]}),
            json!({"type": "function_call_output", "call_id": 7}),
            json!({"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "hm"}]}),
            json!({"type": 3, "role": "user", "content": [{"text": "typed oddly"}]}),
            json!({"role": "user", "content": "not parts"}),
            json!({"type": "message", "content": []}),
        ];
        let stored: Vec<String> = items.iter().map(Value::to_string).collect();
        let mut messages = Messages {
            list: Vec::new(),
            assistant_open: false,
        };
        for taken in [0, 2, 3, 4, 5, 8, 11] {
            let view = serde_json::from_str::<StoredItem>(&stored[taken]).unwrap();
            assert!(
                messages.push_stored(&view),
                "item {taken} is read as a view"
            );
        }
        for left in [7, 9, 10] {
            assert!(serde_json::from_str::<StoredItem>(&stored[left]).is_err());
        }
        let tail =
            [json!({"type": "function_call", "call_id": "call_3", "name": "h", "arguments": ""})];
        let mut all = items.clone();
        all.extend(tail.iter().cloned());
        assert_eq!(
            chat_messages_after_chain(Some("sys"), &stored, &tail),
            chat_messages(Some("sys"), &all)
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
