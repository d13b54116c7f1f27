//! Builds the initial Response object of a request: every field OpenAI sends,
//! echoing what the request set and OpenAI's defaults for the rest.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::wire::responses::object::{Billing, ResponseObject, ResponseStatus, ToolUsage};
use crate::wire::responses::request::CreateResponseRequest;

/// A Response with OpenAI's defaults and no output.
pub fn blank_response(id: String, model: String, created_at: i64) -> ResponseObject {
    ResponseObject {
        id,
        object: "response".into(),
        created_at,
        status: ResponseStatus::InProgress,
        background: false,
        billing: Billing::default(),
        completed_at: None,
        conversation: None,
        error: None,
        frequency_penalty: 0.0,
        incomplete_details: None,
        instructions: None,
        max_output_tokens: None,
        max_tool_calls: None,
        model,
        moderation: None,
        output: Vec::new(),
        parallel_tool_calls: true,
        presence_penalty: 0.0,
        previous_response_id: None,
        prompt_cache_key: None,
        prompt_cache_retention: None,
        reasoning: json!({"context": null, "effort": null, "generate_summary": null, "mode": null, "summary": null}),
        safety_identifier: None,
        service_tier: "default".into(),
        store: true,
        temperature: 1.0,
        text: json!({"format": {"type": "text"}, "verbosity": "medium"}),
        tool_choice: Value::String("auto".into()),
        tool_usage: ToolUsage::default(),
        tools: Vec::new(),
        top_logprobs: 0,
        top_p: 1.0,
        truncation: "disabled".into(),
        usage: None,
        user: None,
        metadata: Map::new(),
        expires_at: None,
    }
}

/// The Response a request starts as.
pub fn response_from_request(
    id: String,
    created_at: i64,
    request: &CreateResponseRequest,
) -> ResponseObject {
    let model = request.model.clone().unwrap_or_default();
    let mut response = blank_response(id, model, created_at);
    response.background = request.background.unwrap_or(false);
    response.instructions = request.instructions.clone().map(Value::String);
    response.max_output_tokens = request.max_output_tokens;
    response.max_tool_calls = request.max_tool_calls;
    response.parallel_tool_calls = request.parallel_tool_calls.unwrap_or(true);
    response.previous_response_id = request.previous_response_id.clone();
    response.prompt_cache_key = request.prompt_cache_key.clone();
    response.prompt_cache_retention = request.prompt_cache_retention.clone();
    if let Some(reasoning) = &request.reasoning {
        let mut echoed = json!({"context": null, "effort": null, "generate_summary": null, "mode": null, "summary": null});
        if let (Some(target), Some(given)) = (echoed.as_object_mut(), reasoning.as_object()) {
            for (key, value) in given {
                target.insert(key.clone(), value.clone());
            }
        }
        response.reasoning = echoed;
    }
    response.safety_identifier = request.safety_identifier.clone();
    if let Some(tier) = &request.service_tier {
        if tier != "auto" {
            response.service_tier = tier.clone();
        }
    }
    // `store` left out is echoed `true`, background or not: OpenAI's newest
    // recording (2026-07) answers a background request so (the February 2026
    // ones said `false`). A background response is kept only when asked for
    // (`store: true`), though: the others are deleted about ten minutes after
    // their creation, as OpenAI's docs say (see `background::retention`).
    response.store = request.store.unwrap_or(true);
    if response.background && request.store != Some(true) {
        response.expires_at = Some(created_at + UNSTORED_RETENTION.as_secs() as i64);
    }
    response.temperature = request.temperature.unwrap_or(1.0);
    if let Some(text) = &request.text {
        let mut echoed = json!({"format": {"type": "text"}, "verbosity": "medium"});
        if let (Some(target), Some(given)) = (echoed.as_object_mut(), text.as_object()) {
            for (key, value) in given {
                target.insert(key.clone(), value.clone());
            }
        }
        response.text = with_format_defaults(echoed);
    }
    if let Some(choice) = &request.tool_choice {
        response.tool_choice = choice.clone();
    }
    response.tools = request
        .tools
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(with_strict_default)
        .collect();
    response.top_logprobs = request.top_logprobs.unwrap_or(0);
    response.top_p = request.top_p.unwrap_or(1.0);
    response.truncation = request
        .truncation
        .clone()
        .unwrap_or_else(|| "disabled".into());
    response.user = request.user.clone();
    response.metadata = request.metadata.clone().unwrap_or_default();
    response
}

/// OpenAI echoes function tools normalized: `description` null when absent or
/// empty, `strict` true when absent (false when null), empty `parameters` as an
/// empty object schema, and strict schemas closed with `additionalProperties: false`.
fn with_strict_default(mut tool: Value) -> Value {
    if let Some(object) = tool.as_object_mut() {
        let description = object
            .get("description")
            .filter(|value| value.as_str().is_some_and(|text| !text.is_empty()));
        let description = description.cloned().unwrap_or(Value::Null);
        object.insert("description".into(), description);
        let strict = match object.get("strict") {
            None => true,
            Some(value) => value.as_bool().unwrap_or(false),
        };
        object.insert("strict".into(), Value::Bool(strict));
        object.entry("output_schema").or_insert(Value::Null);
        let parameters = object.entry("parameters").or_insert(Value::Null);
        if parameters
            .as_object()
            .is_some_and(|schema| schema.is_empty())
        {
            *parameters = json!({"type": "object", "properties": {}});
        }
        if strict {
            if let Some(schema) = parameters.as_object_mut() {
                if schema.get("type").and_then(Value::as_str) == Some("object") {
                    schema
                        .entry("additionalProperties")
                        .or_insert(Value::Bool(false));
                }
            }
        }
    }
    tool
}

/// OpenAI echoes a `json_schema` format with `description` and `strict` filled in.
fn with_format_defaults(mut text: Value) -> Value {
    if let Some(format) = text.get_mut("format").and_then(Value::as_object_mut) {
        if format.get("type").and_then(Value::as_str) == Some("json_schema") {
            format.entry("description").or_insert(Value::Null);
            format.entry("strict").or_insert(Value::Bool(false));
        }
    }
    text
}

/// How long an unstored background response stays readable after its creation.
pub const UNSTORED_RETENTION: Duration = Duration::from_secs(600);
