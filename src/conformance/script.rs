//! Scripting the backend from OpenAI's recorded answer, so the scripted backend
//! produces exactly the content OpenAI produced: message text, refusals, tool
//! calls (legacy function calls as tool calls) with their call ids and
//! arguments, reasoning (its visible text, or a stand-in when
//! OpenAI's model reasoned without showing it), finish reason and usage — and,
//! for answers that were errors, that error.

use serde_json::{json, Map, Value};

use super::cassette::{RecordedRequest, RecordedResponse};

/// How long the scripted backend waits before answering a background request.
const BACKGROUND_DELAY_MS: u64 = 300;

/// How long the scripted backend waits between pieces of a background answer.
const BACKGROUND_CHUNK_DELAY_MS: u64 = 100;

/// How many pieces a background answer's text comes in, at most.
const BACKGROUND_PIECES: usize = 20;

/// The mock-backend script for one recorded exchange, if the endpoint reaches a backend.
pub fn script_for(request: &RecordedRequest, response: &RecordedResponse) -> Option<Value> {
    let path = request.path.split('?').next().unwrap_or_default();
    let status = response.status.unwrap_or(200);
    if status >= 400 {
        return response
            .body
            .get("error")
            .map(|_| json!({"error_status": status, "error_body": response.body}));
    }
    if request.method != "POST" {
        return None;
    }
    if path.ends_with("/responses") {
        let mut script = response.final_object().map(script_from_response)?;
        if request.body.get("background").and_then(Value::as_bool) == Some(true) {
            // OpenAI takes a moment before it answers a background request; the
            // recorded polls saw it queued or in progress first.
            script["delay_ms"] = json!(BACKGROUND_DELAY_MS);
        }
        Some(script)
    } else if path.ends_with("/chat/completions") {
        Some(script_from_chat(response))
    } else {
        None
    }
}

/// A Responses object's output, as a script.
fn script_from_response(response: &Value) -> Value {
    let mut reasoning = String::new();
    let mut saw_reasoning = false;
    let mut content = String::new();
    let mut refusal = String::new();
    let mut tool_calls = Vec::new();
    for item in response
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("reasoning") => {
                saw_reasoning = true;
                for part in ["summary", "content"]
                    .iter()
                    .filter_map(|key| item.get(*key))
                    .filter_map(Value::as_array)
                    .flatten()
                {
                    if let Some(text) = part.get("text").and_then(Value::as_str) {
                        reasoning.push_str(text);
                    }
                }
            }
            Some("message") => {
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(text) = part.get("refusal").and_then(Value::as_str) {
                        refusal.push_str(text);
                    } else if let Some(text) = part.get("text").and_then(Value::as_str) {
                        content.push_str(text);
                    }
                }
            }
            Some("function_call") => tool_calls.push(json!({
                "id": item.get("call_id").cloned().unwrap_or(Value::Null),
                "name": item.get("name").cloned().unwrap_or_else(|| json!("")),
                "arguments": item.get("arguments").cloned().unwrap_or_else(|| json!("")),
            })),
            _ => {}
        }
    }
    let mut script = Map::new();
    if saw_reasoning {
        // The model reasoned; when OpenAI showed none of it, a stand-in keeps the item.
        let text = if reasoning.is_empty() {
            "…".to_owned()
        } else {
            reasoning
        };
        script.insert("reasoning".into(), Value::String(text));
    }
    script.insert("content".into(), Value::String(content));
    if !refusal.is_empty() {
        script.insert("refusal".into(), Value::String(refusal));
    }
    if !tool_calls.is_empty() {
        script.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    let finish = match response
        .pointer("/incomplete_details/reason")
        .and_then(Value::as_str)
    {
        Some("max_output_tokens") => Some("length"),
        Some("content_filter") => Some("content_filter"),
        _ => None,
    };
    if let Some(finish) = finish {
        script.insert("finish_reason".into(), json!(finish));
    }
    if let Some(usage) = response.get("usage").filter(|usage| usage.is_object()) {
        script.insert("usage".into(), json!({
            "prompt_tokens": usage.get("input_tokens").and_then(Value::as_u64).unwrap_or(0),
            "completion_tokens": usage.get("output_tokens").and_then(Value::as_u64).unwrap_or(0),
            "reasoning_tokens": usage.pointer("/output_tokens_details/reasoning_tokens").and_then(Value::as_u64).unwrap_or(0),
            "cached_tokens": usage.pointer("/input_tokens_details/cached_tokens").and_then(Value::as_u64).unwrap_or(0),
        }));
    }
    if response.get("status").and_then(Value::as_str) == Some("failed") {
        script.insert("fail_after_events".into(), json!(1));
    }
    Value::Object(script)
}

/// A Chat Completions answer (JSON or chunks), as a script.
fn script_from_chat(response: &RecordedResponse) -> Value {
    let mut content = String::new();
    let mut refusal = String::new();
    let mut calls: Vec<(Value, String, String)> = Vec::new();
    let mut finish = Value::Null;
    let mut usage = Value::Null;
    let mut absorb_message = |message: &Value, calls: &mut Vec<(Value, String, String)>| {
        if let Some(text) = message.get("content").and_then(Value::as_str) {
            content.push_str(text);
        }
        if let Some(text) = message.get("refusal").and_then(Value::as_str) {
            refusal.push_str(text);
        }
        // A legacy `function_call` is one tool call: the backend is asked with
        // `tools` and Portico answers in the legacy shape.
        if let Some(call) = message.get("function_call").filter(|call| call.is_object()) {
            if calls.is_empty() {
                calls.push((Value::Null, String::new(), String::new()));
            }
            if let Some(name) = call.get("name").and_then(Value::as_str) {
                calls[0].1.push_str(name);
            }
            if let Some(arguments) = call.get("arguments").and_then(Value::as_str) {
                calls[0].2.push_str(arguments);
            }
        }
        for (position, call) in message
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let index = call
                .get("index")
                .and_then(Value::as_u64)
                .map_or(position, |index| index as usize);
            while calls.len() <= index {
                calls.push((Value::Null, String::new(), String::new()));
            }
            if let Some(id) = call.get("id").filter(|id| id.is_string()) {
                calls[index].0 = id.clone();
            }
            if let Some(name) = call.pointer("/function/name").and_then(Value::as_str) {
                calls[index].1.push_str(name);
            }
            if let Some(arguments) = call.pointer("/function/arguments").and_then(Value::as_str) {
                calls[index].2.push_str(arguments);
            }
        }
    };
    match &response.events {
        Some(events) => {
            for data in events.iter().map(|event| &event.data) {
                if let Some(choice) = data.pointer("/choices/0") {
                    if let Some(delta) = choice.get("delta") {
                        absorb_message(delta, &mut calls);
                    }
                    if let Some(reason) = choice
                        .get("finish_reason")
                        .filter(|reason| !reason.is_null())
                    {
                        finish = reason.clone();
                    }
                }
                if let Some(found) = data.get("usage").filter(|found| found.is_object()) {
                    usage = found.clone();
                }
            }
        }
        None => {
            if let Some(choice) = response.body.pointer("/choices/0") {
                if let Some(message) = choice.get("message") {
                    absorb_message(message, &mut calls);
                }
                finish = choice.get("finish_reason").cloned().unwrap_or(Value::Null);
            }
            usage = response.body.get("usage").cloned().unwrap_or(Value::Null);
        }
    }
    let mut script = Map::new();
    script.insert("content".into(), Value::String(content));
    if !refusal.is_empty() {
        script.insert("refusal".into(), Value::String(refusal));
    }
    if !calls.is_empty() {
        script.insert(
            "tool_calls".into(),
            Value::Array(calls.into_iter().map(|(id, name, arguments)| json!({"id": id, "name": name, "arguments": arguments})).collect()),
        );
    }
    if let Some(reason) = finish.as_str() {
        if ["stop", "length", "tool_calls", "content_filter"].contains(&reason) {
            script.insert("finish_reason".into(), json!(reason));
        } else if reason == "function_call" {
            script.insert("finish_reason".into(), json!("tool_calls"));
        }
    }
    if usage.is_object() {
        script.insert("usage".into(), json!({
            "prompt_tokens": usage.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
            "completion_tokens": usage.get("completion_tokens").and_then(Value::as_u64).unwrap_or(0),
        }));
    }
    Value::Object(script)
}

/// The script of a background `POST /v1/responses`: OpenAI's answer to it is only
/// `queued`, so the content comes from the last finished state of the same
/// response found later in the cassette (a poll, or a stream's terminal event).
pub fn background_script(
    interactions: &[super::cassette::Interaction],
    index: usize,
) -> Option<Value> {
    let interaction = interactions.get(index)?;
    let request = interaction.request.as_ref()?;
    if request.method != "POST"
        || request.body.get("background").and_then(Value::as_bool) != Some(true)
    {
        return None;
    }
    let id = response_id(&interaction.response)?;
    let finished = |object: &Value| {
        object.get("id").and_then(Value::as_str) == Some(id.as_str())
            && ["completed", "incomplete", "failed"].contains(
                &object
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            )
    };
    let latest = interactions[index..].iter().rev().find_map(|later| {
        let from_events = later.response.events.as_ref().and_then(|events| {
            events
                .iter()
                .rev()
                .filter_map(|event| event.data.get("response"))
                .find(|object| finished(object))
        });
        from_events.or_else(|| Some(&later.response.body).filter(|body| finished(body)))
    })?;
    let mut script = script_from_response(latest);
    script["delay_ms"] = json!(BACKGROUND_DELAY_MS);
    // A moment between pieces, so that a poll can see the response in progress;
    // a long answer in at most BACKGROUND_PIECES pieces, so it takes seconds, not minutes.
    script["chunk_delay_ms"] = json!(BACKGROUND_CHUNK_DELAY_MS);
    let length = script
        .get("content")
        .and_then(Value::as_str)
        .map_or(0, |text| text.chars().count());
    if length > 0 {
        script["chunk_chars"] = json!(length.div_ceil(BACKGROUND_PIECES).max(8));
    }
    Some(script)
}

/// The id of the response an answer is about (its body, or its first event's response).
fn response_id(response: &RecordedResponse) -> Option<String> {
    let object = match &response.events {
        Some(events) => events.iter().find_map(|event| event.data.get("response")),
        None => Some(&response.body),
    }?;
    object.get("id").and_then(Value::as_str).map(str::to_owned)
}
