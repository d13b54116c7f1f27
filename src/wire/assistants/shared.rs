//! Pieces every Assistants v2 resource shares: the cursor list answer and its
//! query, the deletion marker, OpenAI's id-prefix check, the known-field check,
//! and the tool rules (function tools pass through; hosted tools and
//! `tool_resources` are refused because Portico runs no tools).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::wire::error::{ApiError, ApiResult};
use crate::wire::query::QueryParams;
use crate::wire::query::{ListQuery, Page};
use crate::wire::validate::validate_metadata;
use crate::wire::validate::{check_declared_tool, check_function_name, missing};

/// The message of every refusal of a hosted tool or a tool resource.
pub const NO_HOSTED_TOOLS: &str = "Portico passes tool calls through and runs no tools";

/// `{object: "list", data, first_id, last_id, has_more}`; the ids are null on an empty page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CursorList<T> {
    /// Always `list`.
    pub object: String,
    pub data: Vec<T>,
    pub first_id: Option<String>,
    pub last_id: Option<String>,
    pub has_more: bool,
}

/// Objects that have an id (to fill `first_id` / `last_id`).
pub trait HasId {
    fn id(&self) -> &str;
}

impl<T: HasId> From<Page<T>> for CursorList<T> {
    fn from(page: Page<T>) -> Self {
        Self {
            object: "list".to_owned(),
            first_id: page.items.first().map(|item| item.id().to_owned()),
            last_id: page.items.last().map(|item| item.id().to_owned()),
            has_more: page.has_more,
            data: page.items,
        }
    }
}

/// `{id, object: "<kind>.deleted", deleted: true}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeletedObject {
    pub id: String,
    /// `assistant.deleted`, `thread.deleted` or `thread.message.deleted`.
    pub object: String,
    pub deleted: bool,
}

impl DeletedObject {
    pub fn new(id: String, object: &str) -> Self {
        Self {
            id,
            object: object.to_owned(),
            deleted: true,
        }
    }
}

/// The list query: `limit` (1–100, default 20), `order` (default `desc`), `after`, `before`.
pub fn list_query(query: &QueryParams) -> ApiResult<ListQuery> {
    Ok(ListQuery {
        after: query.get("after").map(str::to_owned),
        before: query.get("before").map(str::to_owned),
        limit: query.limit()?,
        descending: query.descending(true)?,
    })
}

/// OpenAI's 400 for an id without its prefix ("Invalid 'thread_id': 'x'. Expected
/// an ID that begins with 'thread'.").
pub fn check_id(param: &str, id: &str, prefix: &str) -> ApiResult<()> {
    if id.starts_with(prefix) {
        return Ok(());
    }
    Err(ApiError::invalid_with_code(
        format!("Invalid '{param}': '{id}'. Expected an ID that begins with '{prefix}'."),
        Some(param.to_owned()),
        "invalid_value",
    ))
}

/// The body as an object whose keys are all `known`.
pub fn check_fields<'a>(body: &'a Value, known: &[&str]) -> ApiResult<&'a Map<String, Value>> {
    let Value::Object(fields) = body else {
        return Err(ApiError::invalid_with_code(
            "Invalid type for request body: expected an object.",
            None,
            "invalid_type",
        ));
    };
    match fields.keys().find(|key| !known.contains(&key.as_str())) {
        Some(unknown) => Err(ApiError::invalid_with_code(
            format!("Unknown parameter: '{unknown}'."),
            Some(unknown.clone()),
            "unknown_parameter",
        )),
        None => Ok(fields),
    }
}

/// Validates optional metadata (16 string pairs at most).
pub fn check_metadata(metadata: Option<&Map<String, Value>>, param: &str) -> ApiResult<()> {
    match metadata {
        Some(metadata) => validate_metadata(metadata, param),
        None => Ok(()),
    }
}

/// Checks `tools`: function tools with a name; hosted tools are refused.
pub fn check_tools(tools: &[Value], param: &str) -> ApiResult<()> {
    if tools.len() > 128 {
        return Err(ApiError::invalid_with_code(
            format!("Invalid '{param}': array too long. Expected an array with maximum length 128, but got an array with {} items instead.", tools.len()),
            Some(param.to_owned()),
            "array_above_max_length",
        ));
    }
    for (index, tool) in tools.iter().enumerate() {
        let path = format!("{param}[{index}]");
        match tool.get("type").and_then(Value::as_str) {
            Some("function") => check_function_name(
                tool.pointer("/function/name"),
                &format!("{path}.function.name"),
            )?,
            Some(hosted @ ("code_interpreter" | "file_search")) => {
                return Err(ApiError::invalid_with_code(
                    format!("The '{hosted}' tool is not supported: {NO_HOSTED_TOOLS}. Declare function tools and run them in your application."),
                    Some(format!("{path}.type")),
                    "unsupported_parameter",
                ))
            }
            Some(other) => {
                return Err(ApiError::invalid_with_code(
                    format!("Invalid value: '{other}'. Supported values are: 'code_interpreter', 'file_search', and 'function'."),
                    Some(format!("{path}.type")),
                    "invalid_value",
                ))
            }
            None => return Err(missing(&format!("{path}.type"))),
        }
    }
    Ok(())
}

/// Refuses `tool_resources` that name files or vector stores (empty ones are accepted).
pub fn check_tool_resources(resources: Option<&Value>, param: &str) -> ApiResult<()> {
    let Some(resources) = resources.filter(|value| !value.is_null()) else {
        return Ok(());
    };
    let names_anything = |value: &Value| match value {
        Value::Array(ids) => !ids.is_empty(),
        Value::Object(_) | Value::String(_) => true,
        _ => false,
    };
    let used = match resources {
        Value::Object(tools) => tools.values().any(|tool| match tool {
            Value::Object(fields) => fields.values().any(names_anything),
            Value::Null => false,
            _ => true,
        }),
        _ => true,
    };
    if used {
        return Err(ApiError::invalid_with_code(
            format!("'{param}' is not supported: {NO_HOSTED_TOOLS} (no code interpreter, no file search, no Files API)."),
            Some(param.to_owned()),
            "unsupported_parameter",
        ));
    }
    Ok(())
}

/// Checks `temperature` (0–2) and `top_p` (0–1).
pub fn check_sampling(fields: &Map<String, Value>) -> ApiResult<()> {
    for (name, maximum) in [("temperature", 2.0), ("top_p", 1.0)] {
        match fields.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::Number(number)) => {
                let value = number.as_f64().unwrap_or(0.0);
                if !(0.0..=maximum).contains(&value) {
                    return Err(ApiError::invalid_with_code(
                        format!("Invalid '{name}': decimal out of range. Expected a value between 0 and {maximum}, but got {value} instead."),
                        Some(name.to_owned()),
                        if value < 0.0 { "decimal_below_min_value" } else { "decimal_above_max_value" },
                    ));
                }
            }
            Some(_) => {
                return Err(ApiError::invalid_with_code(
                    format!(
                    "Invalid type for '{name}': expected a number, but got another type instead."
                ),
                    Some(name.to_owned()),
                    "invalid_type",
                ))
            }
        }
    }
    Ok(())
}

/// Checks `response_format`: `"auto"`, `{type: text | json_object}`, or `{type: json_schema, json_schema: {name, …}}`.
pub fn check_response_format(format: Option<&Value>) -> ApiResult<()> {
    let invalid = |message: &str, param: &str| {
        ApiError::invalid_with_code(message, Some(param.to_owned()), "invalid_value")
    };
    match format {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(text)) if text == "auto" => Ok(()),
        Some(Value::Object(fields)) => match fields.get("type").and_then(Value::as_str) {
            Some("text" | "json_object") => Ok(()),
            Some("json_schema") => {
                let name = fields.get("json_schema").and_then(|schema| schema.get("name"));
                if name.and_then(Value::as_str).is_none() {
                    return Err(missing("response_format.json_schema.name"));
                }
                Ok(())
            }
            Some(other) => Err(invalid(
                &format!("Invalid value: '{other}'. Supported values are: 'text', 'json_object', and 'json_schema'."),
                "response_format.type",
            )),
            None => Err(missing("response_format.type")),
        },
        Some(_) => Err(invalid(
            "Invalid 'response_format': expected 'auto' or an object with a 'type'.",
            "response_format",
        )),
    }
}

/// An optional string field.
pub fn optional_string(fields: &Map<String, Value>, name: &str) -> ApiResult<Option<String>> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(ApiError::invalid_with_code(
            format!("Invalid type for '{name}': expected a string, but got another type instead."),
            Some(name.to_owned()),
            "invalid_type",
        )),
    }
}

/// Checks a Chat-shaped `tool_choice` (Chat Completions and runs): `none`,
/// `auto`, `required`, or `{type: "function", function: {name}}`, which must
/// name one of `tools` when the tools are known.
pub fn check_tool_choice(choice: Option<&Value>, tools: Option<&[Value]>) -> ApiResult<()> {
    let invalid = |message: String, param: &str| {
        ApiError::invalid_with_code(message, Some(param.to_owned()), "invalid_value")
    };
    match choice {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(mode)) if ["none", "auto", "required"].contains(&mode.as_str()) => {
            Ok(())
        }
        Some(Value::String(mode)) => Err(invalid(
            format!(
                "Invalid value: '{mode}'. Supported values are: 'none', 'auto', and 'required'."
            ),
            "tool_choice",
        )),
        Some(Value::Object(fields)) => match fields.get("type").and_then(Value::as_str) {
            Some("function") => {
                let Some(name) = fields
                    .get("function")
                    .and_then(|function| function.get("name"))
                    .and_then(Value::as_str)
                else {
                    return Err(missing("tool_choice.function.name"));
                };
                match tools {
                    Some([]) => Err(invalid(
                        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.".to_owned(),
                        "tool_choice",
                    )),
                    Some(tools) => check_declared_tool(tools, "function", "/function/name", name),
                    None => Ok(()),
                }
            }
            Some(hosted @ ("code_interpreter" | "file_search")) => {
                Err(ApiError::invalid_with_code(
                    format!("The '{hosted}' tool is not supported: {NO_HOSTED_TOOLS}."),
                    Some("tool_choice.type".to_owned()),
                    "unsupported_parameter",
                ))
            }
            _ => Err(invalid(
                "Invalid 'tool_choice.type': expected 'function'.".to_owned(),
                "tool_choice.type",
            )),
        },
        Some(_) => Err(invalid(
            "Invalid 'tool_choice': expected 'none', 'auto', 'required' or a function object."
                .to_owned(),
            "tool_choice",
        )),
    }
}
