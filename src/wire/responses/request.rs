//! `POST /v1/responses`'s body: the wire type and its validation, with OpenAI's
//! error messages, codes and `param` paths.

use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::wire::error::{ApiError, ApiResult};
use crate::wire::json::from_value;
use crate::wire::validate::{json_type_phrase, validate_metadata};

/// Every top-level parameter OpenAI's `CreateResponse` accepts. Anything else is
/// `unknown_parameter`.
pub const KNOWN_PARAMETERS: [&str; 31] = [
    "background",
    "context_management",
    "conversation",
    "include",
    "input",
    "instructions",
    "max_output_tokens",
    "max_tool_calls",
    "metadata",
    "model",
    "moderation",
    "parallel_tool_calls",
    "previous_response_id",
    "prompt",
    "prompt_cache_key",
    "prompt_cache_options",
    "prompt_cache_retention",
    "reasoning",
    "safety_identifier",
    "service_tier",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "truncation",
    "user",
];

/// Tools that OpenAI runs on its side. Portico runs no tools, so these are refused.
pub const HOSTED_TOOL_TYPES: [&str; 16] = [
    "web_search",
    "web_search_preview",
    "web_search_preview_2025_03_11",
    "web_search_2025_08_26",
    "file_search",
    "code_interpreter",
    "computer_use_preview",
    "computer_use",
    "computer",
    "mcp",
    "image_generation",
    "local_shell",
    "shell",
    "apply_patch",
    "tool_search",
    "custom",
];

/// The body of `POST /v1/responses`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CreateResponseRequest {
    pub model: Option<String>,
    /// A string, or an array of input items.
    #[schema(value_type = Object)]
    pub input: Option<Value>,
    pub instructions: Option<String>,
    pub previous_response_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub conversation: Option<Value>,
    pub store: Option<bool>,
    pub background: Option<bool>,
    pub stream: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub stream_options: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<Value>>,
    #[schema(value_type = Option<Object>)]
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, deserialize_with = "crate::wire::json::optional_count")]
    pub max_output_tokens: Option<u64>,
    #[serde(default, deserialize_with = "crate::wire::json::optional_count")]
    pub max_tool_calls: Option<u64>,
    #[schema(value_type = Option<Object>)]
    pub text: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub reasoning: Option<Value>,
    pub include: Option<Vec<String>>,
    pub truncation: Option<String>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    #[serde(default, deserialize_with = "crate::wire::json::optional_count")]
    pub top_logprobs: Option<u64>,
    pub metadata: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    pub prompt: Option<Value>,
    pub prompt_cache_key: Option<String>,
    pub prompt_cache_retention: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub prompt_cache_options: Option<Value>,
    pub safety_identifier: Option<String>,
    pub service_tier: Option<String>,
    pub user: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub context_management: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub moderation: Option<Value>,
}

impl CreateResponseRequest {
    /// Parses and validates a request body.
    pub fn parse(body: Value) -> ApiResult<Self> {
        let Value::Object(fields) = &body else {
            return Err(ApiError::invalid_with_code(
                "Invalid type for request body: expected an object.",
                None,
                "invalid_type",
            ));
        };
        if let Some(unknown) = fields
            .keys()
            .find(|key| !KNOWN_PARAMETERS.contains(&key.as_str()))
        {
            return Err(ApiError::invalid_with_code(
                format!("Unknown parameter: '{unknown}'."),
                Some(unknown.clone()),
                "unknown_parameter",
            ));
        }
        let request: Self = from_value(body)?;
        request.validate()?;
        Ok(request)
    }

    fn validate(&self) -> ApiResult<()> {
        if self.model.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::invalid_with_code(
                "Missing required parameter: 'model'.",
                Some("model".to_owned()),
                "missing_required_parameter",
            ));
        }
        check_range("temperature", self.temperature, 0.0, 2.0)?;
        check_range("top_p", self.top_p, 0.0, 1.0)?;
        if let Some(tokens) = self.max_output_tokens {
            if tokens < 16 {
                return Err(ApiError::invalid_with_code(
                    format!("Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got {tokens} instead."),
                    Some("max_output_tokens".to_owned()),
                    "integer_below_min_value",
                ));
            }
        }
        if let Some(metadata) = &self.metadata {
            validate_metadata(metadata, "metadata")?;
        }
        if let Some(tools) = &self.tools {
            for (index, tool) in tools.iter().enumerate() {
                validate_tool(tool, index)?;
            }
        }
        if let Some(choice) = &self.tool_choice {
            validate_tool_choice(choice, self.tools.as_deref().unwrap_or_default())?;
        }
        if let Some(include) = &self.include {
            crate::wire::validate::validate_include_values(include.iter().map(String::as_str))?;
        }
        if let Some(effort) = self
            .reasoning
            .as_ref()
            .and_then(|reasoning| reasoning.get("effort"))
        {
            validate_reasoning_effort(effort)?;
        }
        if let Some(text) = &self.text {
            validate_text(text)?;
        }
        if let Some(truncation) = &self.truncation {
            if truncation != "auto" && truncation != "disabled" {
                return Err(unsupported_value(
                    "truncation",
                    truncation,
                    "'auto', 'disabled'",
                ));
            }
        }
        if self.previous_response_id.is_some() && self.conversation.is_some() {
            return Err(ApiError::invalid_with_code(
                "Mutually exclusive parameters: 'previous_response_id' and 'conversation'. Ensure you are only providing one of them.",
                Some("conversation".to_owned()),
                "mutually_exclusive_parameters",
            ));
        }
        if self.prompt.is_some() {
            return Err(not_supported(
                "prompt",
                "Stored prompt templates are not supported: Portico keeps no prompt library. Send the instructions and input directly.",
            ));
        }
        Ok(())
    }
}

fn not_supported(param: &str, message: &str) -> ApiError {
    ApiError::invalid_with_code(message, Some(param.to_owned()), "unsupported_parameter")
}

fn unsupported_value(param: &str, value: &str, supported: &str) -> ApiError {
    ApiError::invalid_with_code(
        format!("Invalid value: '{value}'. Supported values are: {supported}."),
        Some(param.to_owned()),
        "invalid_value",
    )
}

fn check_range(param: &str, value: Option<f64>, minimum: f64, maximum: f64) -> ApiResult<()> {
    match value {
        Some(value) if value < minimum => Err(ApiError::invalid_with_code(
            format!("Invalid '{param}': decimal below minimum value. Expected a value >= {minimum}, but got {value} instead."),
            Some(param.to_owned()),
            "decimal_below_min_value",
        )),
        Some(value) if value > maximum => Err(ApiError::invalid_with_code(
            format!("Invalid '{param}': decimal above maximum value. Expected a value <= {maximum}, but got {value} instead."),
            Some(param.to_owned()),
            "decimal_above_max_value",
        )),
        _ => Ok(()),
    }
}

fn validate_tool(tool: &Value, index: usize) -> ApiResult<()> {
    let kind = tool.get("type").and_then(Value::as_str).unwrap_or_default();
    if HOSTED_TOOL_TYPES.contains(&kind) {
        return Err(ApiError::invalid_with_code(
            format!("Tool type '{kind}' is not supported: Portico passes function tool calls through to the client and runs no tools itself."),
            Some(format!("tools[{index}].type")),
            "unsupported_value",
        ));
    }
    if kind != "function" {
        return Err(ApiError::invalid_with_code(
            format!("Invalid value: '{kind}'. Supported values are: 'function'."),
            Some(format!("tools[{index}].type")),
            "invalid_value",
        ));
    }
    crate::wire::validate::check_function_name(tool.get("name"), &format!("tools[{index}].name"))?;
    if tool.get("strict") == Some(&Value::Bool(true)) {
        crate::wire::strict_schema::check_strict_parameters(
            tool.get("name").and_then(Value::as_str).unwrap_or_default(),
            tool.get("parameters"),
            &format!("tools[{index}].parameters"),
        )?;
    }
    Ok(())
}

/// OpenAI's reasoning effort levels (`ReasoningEffort`), for Responses and Assistants.
pub const REASONING_EFFORTS: [&str; 7] =
    ["none", "minimal", "low", "medium", "high", "xhigh", "max"];

/// The 400 for an effort that is not one of [`REASONING_EFFORTS`].
pub fn unknown_reasoning_effort(param: &str, level: &str) -> ApiError {
    let (last, rest) = REASONING_EFFORTS.split_last().unwrap_or((&"", &[]));
    let supported = format!("'{}', and '{last}'", rest.join("', '"));
    unsupported_value(param, level, &supported)
}

/// `reasoning.effort`: one of OpenAI's levels, or null.
fn validate_reasoning_effort(effort: &Value) -> ApiResult<()> {
    match effort {
        Value::Null => Ok(()),
        Value::String(level) if REASONING_EFFORTS.contains(&level.as_str()) => Ok(()),
        Value::String(level) => Err(unknown_reasoning_effort("reasoning.effort", level)),
        other => Err(ApiError::invalid_with_code(
            format!(
                "Invalid type for 'reasoning.effort': expected a string, but got {} instead.",
                json_type_phrase(other)
            ),
            Some("reasoning.effort".to_owned()),
            "invalid_type",
        )),
    }
}

/// `tool_choice`: a mode, or a tool of `tools` (a named function must be one).
fn validate_tool_choice(choice: &Value, tools: &[Value]) -> ApiResult<()> {
    match choice {
        Value::String(mode) if ["none", "auto", "required"].contains(&mode.as_str()) => Ok(()),
        Value::String(mode) => Err(unsupported_value("tool_choice", mode, "'none', 'auto', 'required'")),
        Value::Object(object) => match object.get("type").and_then(Value::as_str) {
            Some("function") => match object.get("name").and_then(Value::as_str) {
                Some(name) => {
                    crate::wire::validate::check_declared_tool(tools, "function", "/name", name)
                }
                None => Err(ApiError::invalid_with_code(
                    "Missing required parameter: 'tool_choice.name'.",
                    Some("tool_choice.name".to_owned()),
                    "missing_required_parameter",
                )),
            },
            Some("allowed_tools") => Ok(()),
            Some(other) => Err(ApiError::invalid_with_code(
                format!("Tool choice '{other}' is not supported: Portico runs no hosted tools."),
                Some("tool_choice.type".to_owned()),
                "unsupported_value",
            )),
            None => Err(ApiError::invalid_with_code(
                "Missing required parameter: 'tool_choice.type'.",
                Some("tool_choice.type".to_owned()),
                "missing_required_parameter",
            )),
        },
        other => Err(ApiError::invalid_with_code(
            format!("Invalid type for 'tool_choice': expected a string or an object, but got {} instead.", json_type_phrase(other)),
            Some("tool_choice".to_owned()),
            "invalid_type",
        )),
    }
}

fn validate_text(text: &Value) -> ApiResult<()> {
    let Some(format) = text.get("format") else {
        return Ok(());
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") | Some("json_object") => Ok(()),
        Some("json_schema") => {
            for field in ["name", "schema"] {
                if format.get(field).is_none() {
                    return Err(ApiError::invalid_with_code(
                        format!("Missing required parameter: 'text.format.{field}'."),
                        Some(format!("text.format.{field}")),
                        "missing_required_parameter",
                    ));
                }
            }
            Ok(())
        }
        Some(other) => Err(unsupported_value(
            "text.format.type",
            other,
            "'text', 'json_object', 'json_schema'",
        )),
        None => Err(ApiError::invalid_with_code(
            "Missing required parameter: 'text.format.type'.",
            Some("text.format.type".to_owned()),
            "missing_required_parameter",
        )),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
