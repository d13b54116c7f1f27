//! The bodies of the Responses API (`POST /v1/responses`, `/compact`,
//! `/input_tokens`) and its input items, as `CreateResponseRequest::parse`,
//! `normalize_input`, `compact` and `input_tokens` check them.

use serde_json::{json, Value};

use super::shared::{nullable, reference};
use crate::wire::responses::request::{HOSTED_TOOL_TYPES, REASONING_EFFORTS};
use crate::wire::validate::INCLUDE_VALUES;

/// `input`: a string, or an array of items (`normalize_input`).
pub fn input() -> Value {
    json!({"anyOf": [
        {"type": "null"},
        {"type": "string"},
        {"type": "array", "items": reference("ResponsesInputItem")},
    ]})
}

/// One input item (`normalize_item`): its kind is `type`, else a message when
/// it has a `role`, else a reference to a stored item when it has an `id`.
pub fn input_item() -> Value {
    let untyped = json!({"not": {"type": "string"}});
    json!({
        "type": "object",
        "anyOf": [
            {"required": ["role", "content"], "properties": {
                "type": {"anyOf": [{"const": "message"}, untyped]},
                "role": {"enum": ["user", "assistant", "system", "developer"]},
                "content": {"anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": reference("ResponsesContentPart")},
                ]},
            }},
            {"required": ["type", "call_id", "name"], "properties": {
                "type": {"const": "function_call"},
                "call_id": {"type": "string"},
                "name": {"type": "string"},
            }},
            {"required": ["type", "call_id", "output"], "properties": {
                "type": {"const": "function_call_output"},
                "call_id": {"type": "string"},
                "output": {"type": ["string", "array"]},
            }},
            {"required": ["type"], "properties": {"type": {"const": "reasoning"}}},
            {"required": ["type", "encrypted_content"], "properties": {
                "type": {"const": "compaction"},
                "encrypted_content": {"type": "string", "pattern": "^pcmp1\\.[A-Za-z0-9_-]*$", "description": "What this server's `/v1/responses/compact` returned."},
            }},
            {"required": ["type", "id"], "properties": {
                "type": {"const": "item_reference"},
                "id": {"type": "string"},
            }},
            {"required": ["id"], "not": {"required": ["role"]}, "properties": {
                "type": untyped,
                "id": {"type": "string"},
            }},
        ],
    })
}

/// One content part of a message item (`normalize_part`).
pub fn content_part() -> Value {
    json!({
        "type": "object",
        "required": ["type"],
        "anyOf": [
            {"required": ["text"], "properties": {
                "type": {"enum": ["input_text", "output_text", "text"]},
                "text": {"type": "string"},
            }},
            {"properties": {"type": {"const": "refusal"}}},
            {"required": ["image_url"], "properties": {
                "type": {"const": "input_image"},
                "image_url": {"type": "string", "description": "A URL (a data: URL too): there is no Files API."},
            }},
        ],
    })
}

/// `conversation`: an id, or `{id}`.
fn conversation() -> Value {
    json!({"anyOf": [
        {"type": "null"},
        {"type": "string"},
        {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
    ]})
}

fn string_or_null() -> Value {
    json!({"type": ["string", "null"]})
}

fn boolean_or_null() -> Value {
    json!({"type": ["boolean", "null"]})
}

/// A whole number from `minimum` up to `u64::MAX`, or `null`.
pub fn count_or_null(minimum: u64) -> Value {
    json!({"type": ["integer", "null"], "minimum": minimum, "maximum": u64::MAX})
}

/// A number in `minimum..=maximum`, or `null`.
pub fn range_or_null(minimum: f64, maximum: f64) -> Value {
    json!({"type": ["number", "null"], "minimum": minimum, "maximum": maximum})
}

/// `tools[i]` (`validate_tool`): function tools only.
fn function_tool() -> Value {
    json!({
        "type": "object",
        "required": ["type", "name"],
        "properties": {
            "type": {"const": "function", "description": format!("Hosted tools ({}) are refused: Portico runs no tools.", HOSTED_TOOL_TYPES.join(", "))},
            "name": reference("FunctionName"),
        },
    })
}

/// `tool_choice` (`validate_tool_choice`).
fn tool_choice() -> Value {
    json!({"anyOf": [
        {"type": "null"},
        {"enum": ["none", "auto", "required"]},
        {"type": "object", "required": ["type"], "properties": {"type": {"const": "allowed_tools"}}},
        {"type": "object", "required": ["type", "name"], "properties": {
            "type": {"const": "function"},
            "name": {"type": "string", "description": "A function declared in `tools`."},
        }},
    ]})
}

/// `text`: when it names a `format`, a known one (`validate_text`).
fn text() -> Value {
    json!({"properties": {"format": {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": ["text", "json_object", "json_schema"]}},
        "if": {"properties": {"type": {"const": "json_schema"}}},
        "then": {"required": ["name", "schema"]},
    }}})
}

/// `POST /v1/responses`.
pub fn create() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["model"],
        "description": "`previous_response_id` and `conversation` cannot both be given.",
        "properties": {
            "model": {"type": "string", "minLength": 1},
            "input": input(),
            "instructions": string_or_null(),
            "previous_response_id": string_or_null(),
            "conversation": conversation(),
            "store": boolean_or_null(),
            "background": boolean_or_null(),
            "stream": boolean_or_null(),
            "parallel_tool_calls": boolean_or_null(),
            "stream_options": {},
            "prompt_cache_options": {},
            "context_management": {},
            "moderation": {},
            "tools": {"type": ["array", "null"], "items": function_tool()},
            "tool_choice": tool_choice(),
            "max_output_tokens": count_or_null(16),
            "max_tool_calls": count_or_null(0),
            "top_logprobs": count_or_null(0),
            "text": text(),
            "reasoning": {"properties": {"effort": {"enum": REASONING_EFFORTS.iter().map(|effort| Value::from(*effort)).chain([Value::Null]).collect::<Vec<_>>()}}},
            "include": {"type": ["array", "null"], "items": {"enum": INCLUDE_VALUES}},
            "truncation": {"enum": ["auto", "disabled", null]},
            "temperature": range_or_null(0.0, 2.0),
            "top_p": range_or_null(0.0, 1.0),
            "metadata": nullable("Metadata"),
            "prompt": {"type": "null", "description": "Stored prompts are not supported."},
            "prompt_cache_key": string_or_null(),
            "prompt_cache_retention": string_or_null(),
            "safety_identifier": string_or_null(),
            "service_tier": string_or_null(),
            "user": string_or_null(),
        },
        "not": {
            "required": ["previous_response_id", "conversation"],
            "properties": {
                "previous_response_id": {"type": "string"},
                "conversation": {"not": {"type": "null"}},
            },
        },
    })
}

/// `POST /v1/responses/compact`: `input` or `previous_response_id`, or both.
pub fn compact() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["model"],
        "properties": {
            "model": {"type": "string", "minLength": 1},
            "input": input(),
            "previous_response_id": string_or_null(),
            "instructions": string_or_null(),
            "prompt_cache_key": {},
            "prompt_cache_retention": {},
            "prompt_cache_options": {},
            "service_tier": {},
            "image": {},
        },
        "anyOf": [
            {"required": ["input"], "properties": {"input": {"not": {"type": "null"}}}},
            {"required": ["previous_response_id"], "properties": {"previous_response_id": {"not": {"type": "null"}}}},
        ],
    })
}

/// `POST /v1/responses/input_tokens`: counts what a response would read.
pub fn input_tokens() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "model": string_or_null(),
            "input": input(),
            "previous_response_id": string_or_null(),
            "instructions": string_or_null(),
            "tools": {"type": ["array", "null"]},
            "truncation": string_or_null(),
            "parallel_tool_calls": boolean_or_null(),
            "conversation": conversation(),
            "text": {},
            "reasoning": {},
            "tool_choice": {},
            "personality": {},
        },
    })
}
