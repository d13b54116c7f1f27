//! Normalizes a request's `input` into stored input items, the form
//! `GET /v1/responses/{id}/input_items` lists: every item gets an id and a
//! status, string content becomes a parts array. `item_reference`s are left for
//! the engine to resolve from the store. Shapes Portico cannot honour (hosted
//! tool items, files it does not have) are refused with the item's path.

use serde_json::{json, Map, Value};

use crate::wire::error::{ApiError, ApiResult};
use crate::wire::ids::new_id;
use crate::wire::validate::missing;

/// One normalized input entry.
#[derive(Debug, Clone, PartialEq)]
pub enum InputEntry {
    /// A complete item, ready to store.
    Item(Value),
    /// `{"type":"item_reference","id":…}`: an item stored earlier.
    Reference { id: String, param: String },
}

/// Normalizes `input` (a string or an array of items).
pub fn normalize_input(input: Option<&Value>) -> ApiResult<Vec<InputEntry>> {
    match input {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![InputEntry::Item(message_item(
            "user",
            vec![json!({"type": "input_text", "text": text})],
            None,
        ))]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| normalize_item(item, &format!("input[{index}]")))
            .collect(),
        Some(other) => Err(ApiError::invalid_with_code(
            format!(
                "Invalid type for 'input': expected a string or an array, but got {} instead.",
                crate::wire::validate::json_type_phrase(other)
            ),
            Some("input".to_owned()),
            "invalid_type",
        )),
    }
}

fn message_item(role: &str, content: Vec<Value>, id: Option<&str>) -> Value {
    json!({
        "id": id.map_or_else(|| new_id("msg_"), str::to_owned),
        "type": "message",
        "status": "completed",
        "content": content,
        "role": role,
    })
}

fn normalize_item(item: &Value, param: &str) -> ApiResult<InputEntry> {
    let Some(object) = item.as_object() else {
        return Err(ApiError::invalid_with_code(
            format!(
                "Invalid type for '{param}': expected an object, but got {} instead.",
                crate::wire::validate::json_type_phrase(item)
            ),
            Some(param.to_owned()),
            "invalid_type",
        ));
    };
    let kind = object.get("type").and_then(Value::as_str);
    let kind = match kind {
        Some(kind) => kind,
        None if object.contains_key("role") => "message",
        None if object.contains_key("id") => "item_reference",
        None => return Err(missing(&format!("{param}.type"))),
    };
    match kind {
        "message" => normalize_message(object, param).map(InputEntry::Item),
        "function_call" => {
            let call_id = required_string(object, "call_id", param)?;
            let name = required_string(object, "name", param)?;
            let arguments = object.get("arguments").and_then(Value::as_str).unwrap_or("");
            Ok(InputEntry::Item(json!({
                "id": existing_id(object).unwrap_or_else(|| new_id("fc_")),
                "type": "function_call",
                "status": object.get("status").and_then(Value::as_str).unwrap_or("completed"),
                "arguments": arguments,
                "call_id": call_id,
                "name": name,
            })))
        }
        "function_call_output" => {
            let call_id = required_string(object, "call_id", param)?;
            let output = match object.get("output") {
                Some(Value::String(text)) => Value::String(text.clone()),
                Some(Value::Array(parts)) => Value::Array(parts.clone()),
                Some(other) => {
                    return Err(ApiError::invalid_with_code(
                        format!("Invalid type for '{param}.output': expected a string or an array, but got {} instead.", crate::wire::validate::json_type_phrase(other)),
                        Some(format!("{param}.output")),
                        "invalid_type",
                    ))
                }
                None => return Err(missing(&format!("{param}.output"))),
            };
            Ok(InputEntry::Item(json!({
                "id": existing_id(object).unwrap_or_else(|| new_id("fc_")),
                "type": "function_call_output",
                "call_id": call_id,
                "output": output,
                "status": object.get("status").and_then(Value::as_str).unwrap_or("completed"),
            })))
        }
        "reasoning" => {
            let mut stored = object.clone();
            stored.entry("id").or_insert_with(|| Value::String(new_id("rs_")));
            stored.entry("summary").or_insert_with(|| Value::Array(Vec::new()));
            Ok(InputEntry::Item(Value::Object(stored)))
        }
        "compaction" => {
            let sealed = required_string(object, "encrypted_content", param)?;
            if crate::wire::responses::sealed::summary_of(&sealed).is_none() {
                return Err(ApiError::invalid_with_code(
                    format!("Invalid '{param}.encrypted_content': it was not produced by this server's /v1/responses/compact."),
                    Some(format!("{param}.encrypted_content")),
                    "invalid_value",
                ));
            }
            Ok(InputEntry::Item(json!({
                "id": existing_id(object).unwrap_or_else(|| new_id("cmp_")),
                "type": "compaction",
                "encrypted_content": sealed,
            })))
        }
        "item_reference" => Ok(InputEntry::Reference {
            id: required_string(object, "id", param)?,
            param: param.to_owned(),
        }),
        other => Err(ApiError::invalid_with_code(
            format!("Input items of type '{other}' are not supported: Portico passes function calls through and runs no hosted tools."),
            Some(format!("{param}.type")),
            "unsupported_value",
        )),
    }
}

fn normalize_message(object: &Map<String, Value>, param: &str) -> ApiResult<Value> {
    let role = required_string(object, "role", param)?;
    if !["user", "assistant", "system", "developer"].contains(&role.as_str()) {
        return Err(ApiError::invalid_with_code(
            format!("Invalid value: '{role}'. Supported values are: 'assistant', 'system', 'developer', and 'user'."),
            Some(format!("{param}.role")),
            "invalid_value",
        ));
    }
    let text_type = if role == "assistant" {
        "output_text"
    } else {
        "input_text"
    };
    let content = match object.get("content") {
        Some(Value::String(text)) => vec![text_part(text_type, text)],
        Some(Value::Array(parts)) => parts
            .iter()
            .enumerate()
            .map(|(index, part)| normalize_part(part, text_type, &format!("{param}.content[{index}]")))
            .collect::<ApiResult<_>>()?,
        Some(other) => {
            return Err(ApiError::invalid_with_code(
                format!("Invalid type for '{param}.content': expected a string or an array, but got {} instead.", crate::wire::validate::json_type_phrase(other)),
                Some(format!("{param}.content")),
                "invalid_type",
            ))
        }
        None => return Err(missing(&format!("{param}.content"))),
    };
    Ok(message_item(&role, content, existing_id(object).as_deref()))
}

fn text_part(text_type: &str, text: &str) -> Value {
    if text_type == "output_text" {
        json!({"type": "output_text", "annotations": [], "logprobs": [], "text": text})
    } else {
        json!({"type": "input_text", "text": text})
    }
}

fn normalize_part(part: &Value, text_type: &str, param: &str) -> ApiResult<Value> {
    match part.get("type").and_then(Value::as_str) {
        Some("input_text") | Some("output_text") | Some("text") => {
            let text = part.get("text").and_then(Value::as_str).ok_or_else(|| missing(&format!("{param}.text")))?;
            Ok(text_part(text_type, text))
        }
        Some("refusal") => Ok(part.clone()),
        Some("input_image") => {
            if part.get("image_url").and_then(Value::as_str).is_some() {
                Ok(part.clone())
            } else {
                Err(ApiError::invalid_with_code(
                    "Images are accepted by URL (including data: URLs) only: this server has no Files API.",
                    Some(format!("{param}.image_url")),
                    "unsupported_value",
                ))
            }
        }
        Some("input_file") => Err(ApiError::invalid_with_code(
            "File inputs are not supported: this server has no Files API.",
            Some(format!("{param}.type")),
            "unsupported_value",
        )),
        Some(other) => Err(ApiError::invalid_with_code(
            format!("Invalid value: '{other}'. Supported values are: 'input_text', 'input_image', 'output_text' and 'refusal'."),
            Some(format!("{param}.type")),
            "invalid_value",
        )),
        None => Err(missing(&format!("{param}.type"))),
    }
}

fn existing_id(object: &Map<String, Value>) -> Option<String> {
    object
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

fn required_string(object: &Map<String, Value>, field: &str, param: &str) -> ApiResult<String> {
    match object.get(field) {
        Some(Value::String(value)) => Ok(value.clone()),
        Some(other) => Err(ApiError::invalid_with_code(
            format!(
                "Invalid type for '{param}.{field}': expected a string, but got {} instead.",
                crate::wire::validate::json_type_phrase(other)
            ),
            Some(format!("{param}.{field}")),
            "invalid_type",
        )),
        None => Err(missing(&format!("{param}.{field}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(input: Value) -> Vec<Value> {
        normalize_input(Some(&input))
            .unwrap()
            .into_iter()
            .filter_map(|entry| match entry {
                InputEntry::Item(item) => Some(item),
                InputEntry::Reference { .. } => None,
            })
            .collect()
    }

    #[test]
    fn a_string_becomes_one_user_message_with_an_id() {
        let items = items(json!("hello"));
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["role"], "user");
        assert_eq!(
            items[0]["content"],
            json!([{"type": "input_text", "text": "hello"}])
        );
        assert!(items[0]["id"].as_str().unwrap().starts_with("msg_"));
    }

    #[test]
    fn replayed_items_keep_their_ids_and_untyped_messages_are_messages() {
        let items = items(json!([
            {"role": "user", "content": "hi"},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{}", "status": "completed"},
            {"type": "function_call_output", "call_id": "call_1", "output": "42"}
        ]));
        assert_eq!(items[0]["type"], "message");
        assert_eq!(items[1]["id"], "fc_1");
        assert_eq!(items[2]["call_id"], "call_1");
    }

    #[test]
    fn bad_items_name_their_path() {
        let error =
            normalize_input(Some(&json!([{"type": "message", "role": "user"}]))).unwrap_err();
        assert_eq!(
            error.body().error.param.as_deref(),
            Some("input[0].content")
        );
        let error =
            normalize_input(Some(&json!([{"type": "web_search_call", "id": "ws_1"}]))).unwrap_err();
        assert_eq!(error.body().error.param.as_deref(), Some("input[0].type"));
    }
}
