//! What a Chat Completions request must be before it is forwarded: the checks
//! OpenAI makes on the parameters every client sends — `messages` (each with a
//! known `role`, the `content` its role needs, content parts with a `type`, a
//! tool message's `tool_call_id`), the sampling ranges, `n`, the token limits,
//! `stream` and `stream_options`, `tools` (a strict function's schema too),
//! `tool_choice`, and that `response_format` is an object — answered with
//! OpenAI's 400: its message, the offending `param` and `code`.
//!
//! Parameters it does not know are passed through unchecked, and so are
//! content part and `response_format` types: local servers take their own
//! (`top_k`, `repeat_penalty`, `grammar`, vLLM's `video_url` parts and
//! `structural_tag` format, a `json_schema` without `name`…), and the backend
//! answers for them.

use serde_json::Value;

use crate::wire::assistants::shared::check_tool_choice;
use crate::wire::error::{ApiError, ApiResult};
use crate::wire::strict_schema::check_strict_parameters;
use crate::wire::validate::json_type_phrase;
use crate::wire::validate::missing;
use crate::wire::validate::{check_declared_tool, check_function_name};

const ROLES: [&str; 6] = [
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

/// Checks a Chat Completions body (see the module doc).
pub fn validate_chat_request(body: &Value) -> ApiResult<()> {
    check_messages(body.get("messages"))?;
    for (param, minimum, maximum) in [
        ("temperature", 0.0, 2.0),
        ("top_p", 0.0, 1.0),
        ("presence_penalty", -2.0, 2.0),
        ("frequency_penalty", -2.0, 2.0),
    ] {
        check_decimal(body, param, minimum, maximum)?;
    }
    for (param, minimum, maximum) in [
        ("n", 1, 128),
        ("max_tokens", 1, i64::MAX),
        ("max_completion_tokens", 1, i64::MAX),
        ("top_logprobs", 0, 20),
    ] {
        check_integer(body, param, minimum, maximum)?;
    }
    for param in ["stream", "logprobs", "parallel_tool_calls", "store"] {
        check_boolean(body, param)?;
    }
    let streamed = body.get("stream").and_then(Value::as_bool) == Some(true);
    if !streamed
        && body
            .get("stream_options")
            .is_some_and(|options| !options.is_null())
    {
        return Err(ApiError::invalid_with_code(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            Some("stream_options".to_owned()),
            "invalid_value",
        ));
    }
    let tools = check_tools(body.get("tools"))?;
    check_chat_tool_choice(body.get("tool_choice"), tools)?;
    match body.get("response_format") {
        None | Some(Value::Null) | Some(Value::Object(_)) => Ok(()),
        other => Err(invalid_type("response_format", "an object", other)),
    }
}

/// `tool_choice`: Chat's forms — a mode, a named function (which must be one
/// of `tools`), `allowed_tools`, or a named custom tool (one of `tools` too).
fn check_chat_tool_choice(choice: Option<&Value>, tools: &[Value]) -> ApiResult<()> {
    match choice
        .and_then(|choice| choice.get("type"))
        .and_then(Value::as_str)
    {
        Some("allowed_tools") => Ok(()),
        Some("custom") => {
            let Some(name) = choice
                .and_then(|choice| choice.pointer("/custom/name"))
                .and_then(Value::as_str)
            else {
                return Err(missing("tool_choice.custom.name"));
            };
            check_declared_tool(tools, "custom", "/custom/name", name)
        }
        _ => check_tool_choice(choice, Some(tools)),
    }
}

/// `messages`: a non-empty array of messages, each checked.
fn check_messages(messages: Option<&Value>) -> ApiResult<()> {
    let messages = match messages {
        None | Some(Value::Null) => return Err(missing("messages")),
        Some(Value::Array(messages)) => messages,
        other => return Err(invalid_type("messages", "an array of objects", other)),
    };
    if messages.is_empty() {
        return Err(ApiError::invalid_with_code(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            Some("messages".to_owned()),
            "empty_array",
        ));
    }
    for (index, message) in messages.iter().enumerate() {
        check_message(message, &format!("messages[{index}]"))?;
    }
    Ok(())
}

fn check_message(message: &Value, param: &str) -> ApiResult<()> {
    let Value::Object(fields) = message else {
        return Err(invalid_type(param, "an object", Some(message)));
    };
    let role = match fields.get("role") {
        None | Some(Value::Null) => return Err(missing(&format!("{param}.role"))),
        Some(Value::String(role)) => role.as_str(),
        other => return Err(invalid_type(&format!("{param}.role"), "a string", other)),
    };
    if !ROLES.contains(&role) {
        return Err(ApiError::invalid_with_code(
            format!("Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."),
            Some(format!("{param}.role")),
            "invalid_value",
        ));
    }
    let content_param = format!("{param}.content");
    match fields.get("content") {
        // An assistant message may carry only tool calls, a function call or a
        // refusal; a legacy function message's content may be null.
        None | Some(Value::Null) if role == "assistant" || role == "function" => {}
        None | Some(Value::Null) => return Err(missing(&content_param)),
        Some(Value::String(_)) => {}
        Some(Value::Array(parts)) => {
            for (index, part) in parts.iter().enumerate() {
                check_part(part, &format!("{content_param}[{index}]"))?;
            }
        }
        other => {
            return Err(invalid_type(
                &content_param,
                "one of a string or array of objects",
                other,
            ))
        }
    }
    if role == "tool" && fields.get("tool_call_id").and_then(Value::as_str).is_none() {
        return Err(missing(&format!("{param}.tool_call_id")));
    }
    Ok(())
}

/// A content part: an object with a string `type` (types OpenAI does not
/// define pass through, see the module doc).
fn check_part(part: &Value, param: &str) -> ApiResult<()> {
    let Value::Object(fields) = part else {
        return Err(invalid_type(param, "an object", Some(part)));
    };
    match fields.get("type") {
        None | Some(Value::Null) => Err(missing(&format!("{param}.type"))),
        Some(Value::String(_)) => Ok(()),
        other => Err(invalid_type(&format!("{param}.type"), "a string", other)),
    }
}

/// `tools`: function tools with a valid name (and custom tools), returned.
fn check_tools(tools: Option<&Value>) -> ApiResult<&[Value]> {
    let tools = match tools {
        None | Some(Value::Null) => return Ok(&[]),
        Some(Value::Array(tools)) => tools,
        other => return Err(invalid_type("tools", "an array of objects", other)),
    };
    for (index, tool) in tools.iter().enumerate() {
        let param = format!("tools[{index}]");
        match tool.get("type").and_then(Value::as_str) {
            Some("function") => match tool.get("function") {
                Some(Value::Object(function)) => {
                    check_function_name(function.get("name"), &format!("{param}.function.name"))?;
                    if function.get("strict") == Some(&Value::Bool(true)) {
                        check_strict_parameters(
                            function
                                .get("name")
                                .and_then(Value::as_str)
                                .unwrap_or_default(),
                            function.get("parameters"),
                            &format!("{param}.function.parameters"),
                        )?;
                    }
                }
                None | Some(Value::Null) => return Err(missing(&format!("{param}.function"))),
                other => {
                    return Err(invalid_type(
                        &format!("{param}.function"),
                        "an object",
                        other,
                    ))
                }
            },
            Some("custom") => {}
            Some(other) => {
                return Err(ApiError::invalid_with_code(
                    format!(
                        "Invalid value: '{other}'. Supported values are: 'function' and 'custom'."
                    ),
                    Some(format!("{param}.type")),
                    "invalid_value",
                ))
            }
            None => return Err(missing(&format!("{param}.type"))),
        }
    }
    Ok(tools)
}

fn check_decimal(body: &Value, param: &str, minimum: f64, maximum: f64) -> ApiResult<()> {
    let value = match body.get(param) {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Number(number)) => number.as_f64().unwrap_or_default(),
        other => return Err(invalid_type(param, "a number", other)),
    };
    if value < minimum {
        return Err(ApiError::invalid_with_code(
            format!("Invalid '{param}': decimal below minimum value. Expected a value >= {minimum}, but got {value} instead."),
            Some(param.to_owned()),
            "decimal_below_min_value",
        ));
    }
    if value > maximum {
        return Err(ApiError::invalid_with_code(
            format!("Invalid '{param}': decimal above maximum value. Expected a value <= {maximum}, but got {value} instead."),
            Some(param.to_owned()),
            "decimal_above_max_value",
        ));
    }
    Ok(())
}

fn check_integer(body: &Value, param: &str, minimum: i64, maximum: i64) -> ApiResult<()> {
    let value = match body.get(param) {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Number(number)) if number.is_i64() || number.is_u64() => {
            number.as_i64().unwrap_or(i64::MAX)
        }
        // A whole number written as a decimal (`100.0`) counts as that number.
        Some(Value::Number(number))
            if number.as_f64().is_some_and(|value| value.fract() == 0.0) =>
        {
            number.as_f64().unwrap_or_default() as i64
        }
        other => return Err(invalid_type(param, "an integer", other)),
    };
    if value < minimum {
        return Err(ApiError::invalid_with_code(
            format!("Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, but got {value} instead."),
            Some(param.to_owned()),
            "integer_below_min_value",
        ));
    }
    if value > maximum {
        return Err(ApiError::invalid_with_code(
            format!("Invalid '{param}': integer above maximum value. Expected a value <= {maximum}, but got {value} instead."),
            Some(param.to_owned()),
            "integer_above_max_value",
        ));
    }
    Ok(())
}

fn check_boolean(body: &Value, param: &str) -> ApiResult<()> {
    match body.get(param) {
        None | Some(Value::Null) | Some(Value::Bool(_)) => Ok(()),
        other => Err(invalid_type(param, "a boolean", other)),
    }
}

/// OpenAI's 400 for a value of the wrong JSON type.
fn invalid_type(param: &str, expected: &str, got: Option<&Value>) -> ApiError {
    ApiError::invalid_with_code(
        format!(
            "Invalid type for '{param}': expected {expected}, but got {} instead.",
            got.map_or("null", json_type_phrase)
        ),
        Some(param.to_owned()),
        "invalid_type",
    )
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
