//! The bodies of `POST /v1/assistants` and `POST /v1/assistants/{id}`,
//! validated with OpenAI's messages, codes and `param` paths.

use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::wire::error::{ApiError, ApiResult};
use crate::wire::json::from_value;
use crate::wire::responses::request::{unknown_reasoning_effort, REASONING_EFFORTS};

use crate::wire::assistants::shared::{
    check_fields, check_metadata, check_response_format, check_sampling, check_tool_resources,
    check_tools,
};
use crate::wire::validate::missing;

pub const FIELDS: [&str; 11] = [
    "model",
    "name",
    "description",
    "instructions",
    "reasoning_effort",
    "tools",
    "tool_resources",
    "metadata",
    "temperature",
    "top_p",
    "response_format",
];

/// An assistant's settable fields (`model` is required on create; on modify
/// every field is optional and only the ones sent change).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct AssistantRequest {
    pub model: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub instructions: Option<String>,
    pub reasoning_effort: Option<String>,
    /// Function tools only (hosted tools are refused).
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<Value>>,
    /// Refused when it names files or vector stores.
    #[schema(value_type = Option<Object>)]
    pub tool_resources: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    #[schema(value_type = Option<Object>)]
    pub response_format: Option<Value>,
}

/// Parses a create (`require_model`) or modify body.
pub fn parse(body: Value, require_model: bool) -> ApiResult<AssistantRequest> {
    let fields = check_fields(&body, &FIELDS)?;
    check_sampling(fields)?;
    let request: AssistantRequest = from_value(body)?;
    if require_model && request.model.as_deref().is_none_or(str::is_empty) {
        return Err(missing("model"));
    }
    for (param, text, limit) in [
        ("name", &request.name, 256),
        ("description", &request.description, 512),
        ("instructions", &request.instructions, 256_000),
    ] {
        check_length(param, text.as_deref(), limit)?;
    }
    check_reasoning_effort(request.reasoning_effort.as_deref())?;
    check_tools(request.tools.as_deref().unwrap_or_default(), "tools")?;
    check_tool_resources(request.tool_resources.as_ref(), "tool_resources")?;
    check_metadata(request.metadata.as_ref(), "metadata")?;
    check_response_format(request.response_format.as_ref())?;
    Ok(request)
}

/// OpenAI's `maxLength` of a string field.
fn check_length(param: &str, text: Option<&str>, limit: usize) -> ApiResult<()> {
    let length = text.map_or(0, |text| text.chars().count());
    if length > limit {
        return Err(ApiError::invalid_with_code(
            format!("Invalid '{param}': string too long. Expected a string with maximum length {limit}, but got a string with length {length} instead."),
            Some(param.to_owned()),
            "string_above_max_length",
        ));
    }
    Ok(())
}

/// `reasoning_effort`: one of OpenAI's levels.
pub fn check_reasoning_effort(effort: Option<&str>) -> ApiResult<()> {
    match effort {
        Some(effort) if !REASONING_EFFORTS.contains(&effort) => {
            Err(unknown_reasoning_effort("reasoning_effort", effort))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn param_of(body: Value) -> Option<String> {
        parse(body, true).unwrap_err().body().error.param
    }

    #[test]
    fn bad_bodies_name_their_param() {
        assert_eq!(param_of(json!({})).as_deref(), Some("model"));
        assert_eq!(
            param_of(json!({"model": "m", "tools": [{"type": "code_interpreter"}]})).as_deref(),
            Some("tools[0].type")
        );
        assert_eq!(
            param_of(json!({"model": "m", "tool_resources": {"file_search": {"vector_store_ids": ["vs_1"]}}})).as_deref(),
            Some("tool_resources")
        );
        assert_eq!(
            param_of(json!({"model": "m", "temperature": 3})).as_deref(),
            Some("temperature")
        );
        assert_eq!(param_of(json!({"model": 5})).as_deref(), Some("model"));
        assert_eq!(
            param_of(json!({"model": "m", "bogus": 1})).as_deref(),
            Some("bogus")
        );
        assert_eq!(
            param_of(json!({"model": "m", "name": "n".repeat(257)})).as_deref(),
            Some("name")
        );
        assert_eq!(
            param_of(json!({"model": "m", "description": "d".repeat(513)})).as_deref(),
            Some("description")
        );
        assert_eq!(
            param_of(json!({"model": "m", "reasoning_effort": "extreme"})).as_deref(),
            Some("reasoning_effort")
        );
        assert_eq!(
            param_of(json!({"model": "m", "tools": [{"type": "function", "function": {"name": "bad name!"}}]})).as_deref(),
            Some("tools[0].function.name")
        );
        assert!(parse(
            json!({"model": "m", "name": "n".repeat(256), "reasoning_effort": "max"}),
            true
        )
        .is_ok());
        assert!(parse(
            json!({"model": "m", "tools": [{"type": "function", "function": {"name": "f"}}]}),
            true
        )
        .is_ok());
    }
}
