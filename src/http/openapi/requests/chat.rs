//! The bodies of Chat Completions (create, and update of a stored one) and of
//! Embeddings, as `validate_chat_request`, `parse_update` and the embeddings
//! handler check them. Fields a backend may understand and Portico does not
//! check pass through, so these bodies are open to other properties.

use serde_json::{json, Value};

use super::responses::range_or_null;
use super::shared::{nullable, reference};

fn integer_or_null(minimum: i64, maximum: i64) -> Value {
    json!({"type": ["integer", "null"], "minimum": minimum, "maximum": maximum})
}

/// One message (`check_message`): content may be left out only by an
/// assistant (tool calls, a refusal) or a legacy function message.
fn message() -> Value {
    json!({
        "type": "object",
        "required": ["role"],
        "properties": {
            "role": {"enum": ["system", "developer", "user", "assistant", "tool", "function"]},
            "content": {"anyOf": [
                {"type": "null"},
                {"type": "string"},
                {"type": "array", "items": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}}},
            ]},
        },
        "allOf": [
            {"if": {"properties": {"role": {"enum": ["system", "developer", "user", "tool"]}}},
             "then": {"required": ["content"], "properties": {"content": {"not": {"type": "null"}}}}},
            {"if": {"properties": {"role": {"const": "tool"}}},
             "then": {"required": ["tool_call_id"], "properties": {"tool_call_id": {"type": "string"}}}},
        ],
    })
}

/// `tools[i]` (`check_tools`): a function with a valid name, or a custom tool.
fn tool() -> Value {
    json!({
        "type": "object",
        "required": ["type"],
        "anyOf": [
            {"required": ["function"], "properties": {
                "type": {"const": "function"},
                "function": {"type": "object", "required": ["name"], "properties": {"name": reference("FunctionName")}},
            }},
            {"properties": {"type": {"const": "custom"}}},
        ],
    })
}

/// `tool_choice` (`check_chat_tool_choice`); a named tool must be in `tools`.
fn tool_choice() -> Value {
    let named = |kind: &str| {
        json!({"type": "object", "required": ["type", kind], "properties": {
            "type": {"const": kind},
            kind: {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "description": "A tool declared in `tools`."}}},
        }})
    };
    json!({"anyOf": [
        {"type": "null"},
        {"enum": ["none", "auto", "required"]},
        {"type": "object", "required": ["type"], "properties": {"type": {"const": "allowed_tools"}}},
        named("function"),
        named("custom"),
    ]})
}

/// `POST /v1/chat/completions`.
pub fn create() -> Value {
    json!({
        "type": "object",
        "required": ["model", "messages"],
        "description": "Parameters not listed pass through to the backend unchecked.",
        "properties": {
            "model": {"type": "string"},
            "messages": {"type": "array", "minItems": 1, "items": message()},
            "temperature": range_or_null(0.0, 2.0),
            "top_p": range_or_null(0.0, 1.0),
            "presence_penalty": range_or_null(-2.0, 2.0),
            "frequency_penalty": range_or_null(-2.0, 2.0),
            "n": integer_or_null(1, 128),
            "max_tokens": integer_or_null(1, i64::MAX),
            "max_completion_tokens": integer_or_null(1, i64::MAX),
            "top_logprobs": integer_or_null(0, 20),
            "stream": {"type": ["boolean", "null"]},
            "logprobs": {"type": ["boolean", "null"]},
            "parallel_tool_calls": {"type": ["boolean", "null"]},
            "store": {"type": ["boolean", "null"]},
            "tools": {"type": ["array", "null"], "items": tool()},
            "tool_choice": tool_choice(),
            "response_format": {"type": ["object", "null"]},
            "metadata": nullable("Metadata"),
        },
        "if": {"not": {"required": ["stream"], "properties": {"stream": {"const": true}}}},
        "then": {"properties": {"stream_options": {"type": "null", "description": "Only with `stream: true`."}}},
    })
}

/// `POST /v1/chat/completions/{completion_id}`: only `metadata` changes.
pub fn update() -> Value {
    super::shared::metadata_change()
}

/// `POST /v1/embeddings`.
pub fn embeddings() -> Value {
    let token = json!({"type": "integer", "minimum": 0, "maximum": u64::MAX});
    json!({
        "type": "object",
        "required": ["model", "input"],
        "description": "Parameters not listed pass through to the backend unchecked.",
        "properties": {
            "model": {"type": "string"},
            "input": {"anyOf": [
                {"type": "string"},
                {"type": "array", "minItems": 1, "items": {"type": "string"}},
                {"type": "array", "minItems": 1, "items": token},
                {"type": "array", "minItems": 1, "items": {"type": "array", "minItems": 1, "items": token}},
            ]},
            "encoding_format": {"enum": ["float", "base64", null]},
        },
    })
}
