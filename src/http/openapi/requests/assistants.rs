//! The bodies of the Assistants API (assistants, threads, messages, runs) and
//! of the admin API's key creation, as `assistants::request`,
//! `threads::request`, `runs::request` and `access::wire` check them.

use serde_json::{json, Map, Value};

use super::responses::{count_or_null, range_or_null};
use super::shared::{nullable, reference};
use crate::wire::threads::request::MAX_MESSAGES;

fn string_or_null() -> Value {
    json!({"type": ["string", "null"]})
}

fn limited_string(max_length: usize) -> Value {
    json!({"type": ["string", "null"], "maxLength": max_length})
}

/// A message of a thread (`parse_message`).
pub fn thread_message() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["role", "content"],
        "properties": {
            "role": {"enum": ["user", "assistant"]},
            "content": {"anyOf": [
                {"type": "string"},
                {"type": "array", "minItems": 1, "items": reference("ThreadContentPart")},
            ]},
            "attachments": {"anyOf": [{"type": "null"}, {"type": "array", "maxItems": 0}], "description": "No files: there is no Files API."},
            "metadata": nullable("Metadata"),
        },
    })
}

/// A content part of a thread message (`content_part`).
pub fn thread_content_part() -> Value {
    json!({
        "type": "object",
        "required": ["type"],
        "anyOf": [
            {"required": ["text"], "properties": {"type": {"const": "text"}, "text": {"type": "string"}}},
            {"required": ["image_url"], "properties": {
                "type": {"const": "image_url"},
                "image_url": {"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}},
            }},
        ],
    })
}

/// The fields of an assistant; `model` is required on create only.
fn assistant(create: bool) -> Value {
    let mut body = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "model": if create { json!({"type": "string", "minLength": 1}) } else { string_or_null() },
            "name": limited_string(256),
            "description": limited_string(512),
            "instructions": limited_string(256_000),
            "reasoning_effort": nullable("ReasoningEffort"),
            "tools": {"type": ["array", "null"], "maxItems": 128, "items": reference("AssistantTool")},
            "tool_resources": reference("ToolResources"),
            "metadata": nullable("Metadata"),
            "temperature": range_or_null(0.0, 2.0),
            "top_p": range_or_null(0.0, 1.0),
            "response_format": reference("AssistantResponseFormat"),
        },
    });
    if create {
        body["required"] = json!(["model"]);
    }
    body
}

/// `POST /v1/assistants`.
pub fn create_assistant() -> Value {
    assistant(true)
}

/// `POST /v1/assistants/{assistant_id}`: `null` leaves a field unchanged.
pub fn modify_assistant() -> Value {
    assistant(false)
}

/// `POST /v1/threads` (the body may be left out: an empty thread).
pub fn create_thread() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "messages": {"type": ["array", "null"], "maxItems": MAX_MESSAGES, "items": reference("ThreadMessageRequest")},
            "tool_resources": reference("ToolResources"),
            "metadata": nullable("Metadata"),
        },
    })
}

/// `POST /v1/threads/{thread_id}`: `metadata: null` clears it.
pub fn modify_thread() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "metadata": nullable("Metadata"),
            "tool_resources": reference("ToolResources"),
        },
    })
}

/// The fields both run creations take (`RUN_FIELDS` less the additions).
fn run_fields() -> Map<String, Value> {
    let fields = json!({
        "assistant_id": {"type": "string", "pattern": "^asst"},
        "model": string_or_null(),
        "reasoning_effort": nullable("ReasoningEffort"),
        "instructions": string_or_null(),
        "tools": {"type": ["array", "null"], "maxItems": 128, "items": reference("AssistantTool")},
        "metadata": nullable("Metadata"),
        "temperature": range_or_null(0.0, 2.0),
        "top_p": range_or_null(0.0, 1.0),
        "stream": {"type": ["boolean", "null"]},
        "parallel_tool_calls": {"type": ["boolean", "null"]},
        "max_prompt_tokens": count_or_null(256),
        "max_completion_tokens": count_or_null(256),
        "truncation_strategy": {"anyOf": [
            {"type": "null"},
            {"type": "object", "required": ["type"], "properties": {"type": {"const": "auto"}}},
            {"type": "object", "required": ["type", "last_messages"], "properties": {
                "type": {"const": "last_messages"},
                "last_messages": {"type": "integer", "minimum": 1, "maximum": u64::MAX},
            }},
        ]},
        "tool_choice": reference("AssistantToolChoice"),
        "response_format": reference("AssistantResponseFormat"),
    });
    match fields {
        Value::Object(fields) => fields,
        _ => Map::new(),
    }
}

fn run(extra: Value) -> Value {
    let mut properties = run_fields();
    if let Value::Object(extra) = extra {
        properties.extend(extra);
    }
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["assistant_id"],
        "description": "The thread must hold a user message, or the run must have instructions.",
        "properties": properties,
    })
}

/// `POST /v1/threads/{thread_id}/runs`.
pub fn create_run() -> Value {
    run(json!({
        "additional_instructions": string_or_null(),
        "additional_messages": {"type": ["array", "null"], "items": reference("ThreadMessageRequest")},
    }))
}

/// `POST /v1/threads/runs`: a new thread and a run on it.
pub fn create_thread_and_run() -> Value {
    run(json!({
        "thread": {"anyOf": [{"type": "null"}, create_thread()]},
        "tool_resources": reference("ToolResources"),
    }))
}

/// `POST /v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs`.
pub fn submit_tool_outputs() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["tool_outputs"],
        "description": "One output for each pending call of the run, each once.",
        "properties": {
            "stream": {"type": ["boolean", "null"]},
            "tool_outputs": {"type": "array", "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["tool_call_id"],
                "properties": {"tool_call_id": {"type": "string"}, "output": string_or_null()},
            }},
        },
    })
}

/// `POST /admin/keys`.
pub fn create_key() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["project"],
        "properties": {
            "project": {"type": "string", "pattern": "\\S"},
            "name": string_or_null(),
            "requests_per_minute": count_or_null(1),
            "tokens_per_minute": count_or_null(1),
        },
    })
}
