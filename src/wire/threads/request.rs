//! The bodies of the thread and message routes (and the `thread` and
//! `additional_messages` of runs), validated with OpenAI's messages, codes and
//! `param` paths. Message content becomes OpenAI's stored parts: a string is
//! one `text` part; `image_url` parts are kept (a vision backend can read
//! them); `image_file` and file `attachments` are refused (no Files API).

use serde_json::{json, Map, Value};

use crate::wire::assistants::shared::{
    check_fields, check_metadata, check_tool_resources, NO_HOSTED_TOOLS,
};
use crate::wire::error::{ApiError, ApiResult};
use crate::wire::validate::missing;

/// The most messages one thread may be created with.
pub const MAX_MESSAGES: usize = 32;

/// A message to add: role, stored content parts, metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub role: String,
    pub content: Vec<Value>,
    pub metadata: Map<String, Value>,
}

/// The body of `POST /v1/threads` (or a run's `thread`): its messages and metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewThread {
    pub messages: Vec<NewMessage>,
    pub metadata: Map<String, Value>,
}

fn metadata_of(fields: &Map<String, Value>, param: &str) -> ApiResult<Map<String, Value>> {
    match fields.get("metadata") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(metadata)) => {
            check_metadata(Some(metadata), param)?;
            Ok(metadata.clone())
        }
        Some(_) => Err(ApiError::invalid_with_code(
            format!(
                "Invalid type for '{param}': expected an object, but got another type instead."
            ),
            Some(param.to_owned()),
            "invalid_type",
        )),
    }
}

/// Parses a thread body; `path` prefixes params (`thread.` inside a run request).
pub fn parse_thread(body: &Value, path: &str) -> ApiResult<NewThread> {
    let fields = check_fields(body, &["messages", "tool_resources", "metadata"])
        .map_err(|error| prefix_param(error, path))?;
    check_tool_resources(
        fields.get("tool_resources"),
        &format!("{path}tool_resources"),
    )?;
    let metadata = metadata_of(fields, &format!("{path}metadata"))?;
    let messages = match fields.get("messages") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(messages)) => {
            if messages.len() > MAX_MESSAGES {
                return Err(ApiError::invalid_with_code(
                    format!("Invalid '{path}messages': array too long. Expected an array with maximum length {MAX_MESSAGES}, but got an array with {} items instead.", messages.len()),
                    Some(format!("{path}messages")),
                    "array_above_max_length",
                ));
            }
            messages_of(messages, &format!("{path}messages"))?
        }
        Some(_) => return Err(not_an_array(&format!("{path}messages"))),
    };
    Ok(NewThread { messages, metadata })
}

/// Parses a list of messages (`additional_messages`, a thread's `messages`).
pub fn messages_of(messages: &[Value], param: &str) -> ApiResult<Vec<NewMessage>> {
    messages
        .iter()
        .enumerate()
        .map(|(index, message)| parse_message(message, &format!("{param}[{index}].")))
        .collect()
}

/// OpenAI's 400 for a field that must be an array.
pub fn not_an_array(param: &str) -> ApiError {
    ApiError::invalid_with_code(
        format!("Invalid type for '{param}': expected an array, but got another type instead."),
        Some(param.to_owned()),
        "invalid_type",
    )
}

fn prefix_param(error: ApiError, path: &str) -> ApiError {
    match error {
        ApiError::InvalidRequest {
            message,
            param,
            code,
        } if !path.is_empty() => ApiError::InvalidRequest {
            message,
            param: param.map(|param| format!("{path}{param}")),
            code,
        },
        other => other,
    }
}

/// Parses `POST /v1/threads/{id}/messages`'s body (or one entry of a list;
/// `path` is then `messages[i].`).
pub fn parse_message(body: &Value, path: &str) -> ApiResult<NewMessage> {
    let fields = check_fields(body, &["role", "content", "attachments", "metadata"])
        .map_err(|error| prefix_param(error, path))?;
    let role = match fields.get("role") {
        Some(Value::String(role)) if role == "user" || role == "assistant" => role.clone(),
        Some(Value::String(other)) => {
            return Err(ApiError::invalid_with_code(
                format!("Invalid value: '{other}'. Supported values are: 'user' and 'assistant'."),
                Some(format!("{path}role")),
                "invalid_value",
            ))
        }
        Some(_) => {
            return Err(ApiError::invalid_with_code(
                format!(
                "Invalid type for '{path}role': expected a string, but got another type instead."
            ),
                Some(format!("{path}role")),
                "invalid_type",
            ))
        }
        None => return Err(missing(&format!("{path}role"))),
    };
    let content = match fields.get("content") {
        Some(Value::String(text)) => vec![text_part(text)],
        Some(Value::Array(parts)) if !parts.is_empty() => parts
            .iter()
            .enumerate()
            .map(|(index, part)| content_part(part, &format!("{path}content[{index}]")))
            .collect::<ApiResult<_>>()?,
        Some(Value::Array(_)) => {
            return Err(ApiError::invalid_with_code(
                format!("Invalid '{path}content': empty array. Expected an array with minimum length 1, but got an empty array instead."),
                Some(format!("{path}content")),
                "empty_array",
            ))
        }
        Some(_) => {
            return Err(ApiError::invalid_with_code(
                format!("Invalid type for '{path}content': expected a string or an array of content parts."),
                Some(format!("{path}content")),
                "invalid_type",
            ))
        }
        None => return Err(missing(&format!("{path}content"))),
    };
    match fields.get("attachments") {
        None | Some(Value::Null) => {}
        Some(Value::Array(attachments)) if attachments.is_empty() => {}
        Some(_) => {
            return Err(ApiError::invalid_with_code(
                format!(
                    "'{path}attachments' is not supported: {NO_HOSTED_TOOLS} and keeps no files."
                ),
                Some(format!("{path}attachments")),
                "unsupported_parameter",
            ))
        }
    }
    let metadata = metadata_of(fields, &format!("{path}metadata"))?;
    Ok(NewMessage {
        role,
        content,
        metadata,
    })
}

/// `{type: "text", text: {value, annotations: []}}`.
pub fn text_part(text: &str) -> Value {
    json!({"type": "text", "text": {"value": text, "annotations": []}})
}

fn content_part(part: &Value, param: &str) -> ApiResult<Value> {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => match part.get("text").and_then(Value::as_str) {
            Some(text) => Ok(text_part(text)),
            None => Err(missing(&format!("{param}.text"))),
        },
        Some("image_url") => {
            let url = part.pointer("/image_url/url").and_then(Value::as_str);
            let Some(url) = url else {
                return Err(missing(&format!("{param}.image_url.url")));
            };
            let detail = part
                .pointer("/image_url/detail")
                .and_then(Value::as_str)
                .unwrap_or("auto");
            Ok(json!({"type": "image_url", "image_url": {"url": url, "detail": detail}}))
        }
        Some("image_file") => Err(ApiError::invalid_with_code(
            "Image files are not supported: Portico has no Files API. Send the image as an 'image_url' part.",
            Some(format!("{param}.type")),
            "unsupported_parameter",
        )),
        Some(other) => Err(ApiError::invalid_with_code(
            format!("Invalid value: '{other}'. Supported values are: 'text', 'image_url', and 'image_file'."),
            Some(format!("{param}.type")),
            "invalid_value",
        )),
        None => Err(missing(&format!("{param}.type"))),
    }
}

/// Parses a modify body (`{metadata}` for messages; threads also accept
/// `tool_resources`). `None` when no metadata was sent.
pub fn parse_modify(
    body: &Value,
    allow_tool_resources: bool,
) -> ApiResult<Option<Map<String, Value>>> {
    let known: &[&str] = if allow_tool_resources {
        &["metadata", "tool_resources"]
    } else {
        &["metadata"]
    };
    let fields = check_fields(body, known)?;
    check_tool_resources(fields.get("tool_resources"), "tool_resources")?;
    if fields.contains_key("metadata") {
        metadata_of(fields, "metadata").map(Some)
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param_of(result: ApiResult<impl std::fmt::Debug>) -> Option<String> {
        result.unwrap_err().body().error.param
    }

    #[test]
    fn messages_become_openais_parts() {
        let message = parse_message(&json!({"role": "user", "content": "hi"}), "").unwrap();
        assert_eq!(message.content, vec![text_part("hi")]);
        assert_eq!(
            param_of(parse_message(
                &json!({"role": "system", "content": "x"}),
                ""
            ))
            .as_deref(),
            Some("role")
        );
        assert_eq!(
            param_of(parse_thread(&json!({"messages": [{"role": "user"}]}), "")).as_deref(),
            Some("messages[0].content")
        );
        assert_eq!(
            param_of(parse_thread(
                &json!({"messages": [{"role": "user", "content": "x", "attachments": [{"file_id": "f"}]}]}),
                "thread."
            ))
            .as_deref(),
            Some("thread.messages[0].attachments")
        );
    }
}
