//! Builds the initial Response object of a request: every field OpenAI sends,
//! echoing what the request set and OpenAI's defaults for the rest.

use serde_json::{json, Map, Value};

use super::object::{ResponseObject, ResponseStatus};
use super::request::CreateResponseRequest;

/// A Response with OpenAI's defaults and no output.
pub fn blank_response(id: String, model: String, created_at: i64) -> ResponseObject {
    ResponseObject {
        id,
        object: "response".into(),
        created_at,
        status: ResponseStatus::InProgress,
        background: false,
        completed_at: None,
        conversation: None,
        error: None,
        frequency_penalty: 0.0,
        incomplete_details: None,
        instructions: None,
        max_output_tokens: None,
        max_tool_calls: None,
        model,
        output: Vec::new(),
        parallel_tool_calls: true,
        presence_penalty: 0.0,
        previous_response_id: None,
        prompt_cache_key: None,
        prompt_cache_retention: None,
        reasoning: json!({"effort": null, "summary": null}),
        safety_identifier: None,
        service_tier: "default".into(),
        store: true,
        temperature: 1.0,
        text: json!({"format": {"type": "text"}, "verbosity": "medium"}),
        tool_choice: Value::String("auto".into()),
        tools: Vec::new(),
        top_logprobs: 0,
        top_p: 1.0,
        truncation: "disabled".into(),
        usage: None,
        user: None,
        metadata: Map::new(),
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
        let mut echoed = json!({"effort": null, "summary": null});
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
    response.store = request.store.unwrap_or(true);
    response.temperature = request.temperature.unwrap_or(1.0);
    if let Some(text) = &request.text {
        let mut echoed = json!({"format": {"type": "text"}, "verbosity": "medium"});
        if let (Some(target), Some(given)) = (echoed.as_object_mut(), text.as_object()) {
            for (key, value) in given {
                target.insert(key.clone(), value.clone());
            }
        }
        response.text = echoed;
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

/// OpenAI echoes function tools with `strict` (default true) and `parameters`
/// filled in.
fn with_strict_default(mut tool: Value) -> Value {
    if let Some(object) = tool.as_object_mut() {
        object.entry("description").or_insert(Value::Null);
        object.entry("parameters").or_insert(Value::Null);
        object.entry("strict").or_insert(Value::Bool(true));
    }
    tool
}
