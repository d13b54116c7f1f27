//! Validators more than one resource shares, with OpenAI's wording: metadata,
//! a JSON value's type named in a message, function names, a named tool that
//! must be declared, and the `include` values of Responses and Conversations.

use serde_json::{Map, Value};

use crate::wire::error::{ApiError, ApiResult};

/// OpenAI's metadata rules: at most 16 pairs, keys up to 64 characters, string
/// values up to 512 characters.
pub fn validate_metadata(metadata: &Map<String, Value>, param: &str) -> ApiResult<()> {
    if metadata.len() > 16 {
        return Err(ApiError::invalid_with_code(
            format!("Invalid '{param}': too many properties. Expected an object with at most 16 properties, but got an object with {} properties instead.", metadata.len()),
            Some(param.to_owned()),
            "object_above_max_properties",
        ));
    }
    for (key, value) in metadata {
        if key.chars().count() > 64 {
            return Err(ApiError::invalid_with_code(
                format!("Invalid '{param}': metadata keys can be at most 64 characters long, but '{key}' is longer."),
                Some(param.to_owned()),
                "invalid_value",
            ));
        }
        let Value::String(text) = value else {
            return Err(ApiError::invalid_with_code(
                format!(
                    "Invalid type for '{param}.{key}': expected a string, but got {} instead.",
                    json_type_phrase(value)
                ),
                Some(format!("{param}.{key}")),
                "invalid_type",
            ));
        };
        if text.chars().count() > 512 {
            return Err(ApiError::invalid_with_code(
                format!("Invalid '{param}.{key}': string too long. Expected a string with maximum length 512, but got a string with length {} instead.", text.chars().count()),
                Some(format!("{param}.{key}")),
                "string_above_max_length",
            ));
        }
    }
    Ok(())
}

/// "a string", "an integer", … as OpenAI words a JSON value's type.
pub fn json_type_phrase(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(number) if number.is_f64() => "a decimal",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A function tool's `name` (at `param`): present, and OpenAI's pattern
/// `^[a-zA-Z0-9_-]{1,64}$`. Shared by Assistants and Chat Completions.
pub fn check_function_name(name: Option<&Value>, param: &str) -> ApiResult<()> {
    let name = match name {
        None | Some(Value::Null) => return Err(missing(param)),
        Some(Value::String(name)) if name.is_empty() => return Err(missing(param)),
        Some(Value::String(name)) => name,
        Some(other) => {
            return Err(ApiError::invalid_with_code(
                format!(
                    "Invalid type for '{param}': expected a string, but got {} instead.",
                    crate::wire::validate::json_type_phrase(other)
                ),
                Some(param.to_owned()),
                "invalid_type",
            ))
        }
    };
    if name.chars().count() > 64 {
        return Err(ApiError::invalid_with_code(
            format!("Invalid '{param}': string too long. Expected a string with maximum length 64, but got a string with length {} instead.", name.chars().count()),
            Some(param.to_owned()),
            "string_above_max_length",
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ApiError::invalid_with_code(
            format!("Invalid '{param}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."),
            Some(param.to_owned()),
            "invalid_value",
        ));
    }
    Ok(())
}

/// `Ok` when `tools` declares a `kind` tool named `name` (its name at the
/// JSON pointer `name_at` in the tool: Chat nests it, Responses does not);
/// otherwise OpenAI's 400 for a `tool_choice` that names an undeclared tool.
pub fn check_declared_tool(
    tools: &[Value],
    kind: &str,
    name_at: &str,
    name: &str,
) -> ApiResult<()> {
    let declared = tools.iter().any(|tool| {
        tool.get("type").and_then(Value::as_str) == Some(kind)
            && tool.pointer(name_at).and_then(Value::as_str) == Some(name)
    });
    if declared {
        return Ok(());
    }
    Err(ApiError::invalid_with_code(
        format!("Tool choice '{kind}' with name '{name}' not found in 'tools' parameter."),
        Some("tool_choice".to_owned()),
        "invalid_value",
    ))
}

/// OpenAI's `IncludeEnum`: what `include[]` may name. Portico stores items whole,
/// so every accepted value is already honoured.
pub const INCLUDE_VALUES: [&str; 8] = [
    "file_search_call.results",
    "web_search_call.results",
    "web_search_call.action.sources",
    "message.input_image.image_url",
    "computer_call_output.output.image_url",
    "code_interpreter_call.outputs",
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
];

/// Checks `include` values (of a query or a request body) against OpenAI's
/// list, shared by the Responses and Conversations APIs.
pub fn validate_include_values<'a>(values: impl IntoIterator<Item = &'a str>) -> ApiResult<()> {
    for value in values {
        if !INCLUDE_VALUES.contains(&value) {
            let supported: Vec<String> = INCLUDE_VALUES
                .iter()
                .map(|value| format!("'{value}'"))
                .collect();
            return Err(ApiError::invalid_with_code(
                format!(
                    "Invalid value: '{value}'. Supported values are: {}.",
                    supported.join(", ")
                ),
                Some("include".to_owned()),
                "invalid_value",
            ));
        }
    }
    Ok(())
}

/// A 400 for a missing required field.
pub fn missing(param: &str) -> ApiError {
    ApiError::invalid_with_code(
        format!("Missing required parameter: '{param}'."),
        Some(param.to_owned()),
        "missing_required_parameter",
    )
}
