//! Schemas more than one request body uses: metadata, function names, the
//! Assistants API's tools, tool choice, response format and tool resources,
//! reasoning effort, and the Responses API's input items (also the items of
//! conversations). Each states exactly the rule of the one function that
//! checks it (named beside it).

use serde_json::{json, Value};

use crate::wire::responses::request::REASONING_EFFORTS;

/// A reference to a schema of `components.schemas`.
pub fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// `null` or the schema `name` (a field where `null` means "left out").
pub fn nullable(name: &str) -> Value {
    json!({"anyOf": [{"type": "null"}, reference(name)]})
}

/// A body that changes only `metadata` and must name it (`null` clears it).
pub fn metadata_change() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["metadata"],
        "properties": {"metadata": nullable("Metadata")},
    })
}

/// Every shared schema, by name.
pub fn schemas() -> Vec<(&'static str, Value)> {
    vec![
        // `validate_metadata`
        (
            "Metadata",
            json!({
                "type": "object",
                "description": "Up to 16 pairs; keys up to 64 characters, string values up to 512.",
                "maxProperties": 16,
                "propertyNames": {"maxLength": 64},
                "additionalProperties": {"type": "string", "maxLength": 512},
            }),
        ),
        // `check_function_name`
        (
            "FunctionName",
            json!({"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"}),
        ),
        ("ReasoningEffort", json!({"enum": REASONING_EFFORTS})),
        // `check_tool_resources`: Portico runs no code interpreter and no file
        // search, so only resources that name nothing are accepted.
        (
            "ToolResources",
            json!({
                "type": ["object", "null"],
                "description": "Accepted only when it names no file and no vector store: Portico runs no hosted tools.",
                "additionalProperties": {
                    "type": ["object", "null"],
                    "additionalProperties": {"anyOf": [
                        {"type": ["null", "boolean", "number"]},
                        {"type": "array", "maxItems": 0},
                    ]},
                },
            }),
        ),
        // `check_response_format`
        (
            "AssistantResponseFormat",
            json!({"anyOf": [
                {"type": "null"},
                {"const": "auto"},
                {"type": "object", "required": ["type"], "properties": {"type": {"enum": ["text", "json_object"]}}},
                {"type": "object", "required": ["type", "json_schema"], "properties": {
                    "type": {"const": "json_schema"},
                    "json_schema": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
                }},
            ]}),
        ),
        // `check_tools`: function tools only (hosted tools are refused).
        (
            "AssistantTool",
            json!({
                "type": "object",
                "required": ["type", "function"],
                "properties": {
                    "type": {"const": "function"},
                    "function": {"type": "object", "required": ["name"], "properties": {"name": reference("FunctionName")}},
                },
            }),
        ),
        // `check_tool_choice`
        (
            "AssistantToolChoice",
            json!({"anyOf": [
                {"type": "null"},
                {"enum": ["none", "auto", "required"]},
                {"type": "object", "required": ["type", "function"], "properties": {
                    "type": {"const": "function"},
                    "function": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
                }},
            ]}),
        ),
        ("ResponsesInputItem", super::responses::input_item()),
        ("ResponsesContentPart", super::responses::content_part()),
        ("ThreadMessageRequest", super::assistants::thread_message()),
        (
            "ThreadContentPart",
            super::assistants::thread_content_part(),
        ),
        (
            "MetadataUpdate",
            json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {"metadata": nullable("Metadata")},
                "description": "`metadata: null` clears it; `{}` changes nothing.",
            }),
        ),
    ]
}
