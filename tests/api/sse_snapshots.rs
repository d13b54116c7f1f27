//! Snapshot tests pinning whole Responses event streams (ids and timestamps
//! redacted, and the random `obfuscation` padding): a text answer, a function
//! call, a failure and an incomplete answer.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::helpers::spawn_app;

/// Replaces generated ids by stable placeholders (in order of appearance) and
/// timestamps by 0, so the snapshot pins the shape and order, not the dice.
fn redact(value: &mut Value, ids: &mut HashMap<String, String>) {
    match value {
        Value::Object(object) => {
            for (key, field) in object.iter_mut() {
                if ["created_at", "completed_at"].contains(&key.as_str()) && field.is_number() {
                    *field = json!(0);
                } else if key == "obfuscation" {
                    *field = json!("[random padding]");
                } else {
                    redact(field, ids);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| redact(item, ids)),
        Value::String(text) => {
            for prefix in ["resp_", "msg_", "fc_", "rs_"] {
                if text.starts_with(prefix) && text.len() > prefix.len() + 20 {
                    let next = ids.len();
                    *text = ids
                        .entry(text.clone())
                        .or_insert_with(|| format!("{prefix}{next}"))
                        .clone();
                }
            }
        }
        _ => {}
    }
}

async fn stream_snapshot(script: Value, request: Value) -> Value {
    let app = spawn_app().await;
    app.script(script).await;
    let (status, _, events) = app.post_stream("/v1/responses", request).await;
    assert_eq!(status, 200);
    let mut frames: Value = events
        .into_iter()
        .map(|(name, data)| json!({"event": name, "data": data}))
        .collect();
    redact(&mut frames, &mut HashMap::new());
    frames
}

#[tokio::test]
async fn text_answer_stream() {
    let frames = stream_snapshot(
        json!({"content": "Hi there", "usage": {"prompt_tokens": 5, "completion_tokens": 2}}),
        json!({"model": "m", "input": "Hello", "stream": true}),
    )
    .await;
    crate::wire_snapshot!("text_answer_stream", frames);
}

#[tokio::test]
async fn function_call_stream() {
    let frames = stream_snapshot(
        json!({"tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}], "usage": {"prompt_tokens": 9, "completion_tokens": 4}}),
        json!({"model": "m", "input": "Weather?", "stream": true, "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]}),
    )
    .await;
    crate::wire_snapshot!("function_call_stream", frames);
}

#[tokio::test]
async fn failure_stream() {
    let frames = stream_snapshot(
        json!({"content": "one two three", "fail_after_events": 2, "error_message": "backend died", "usage": {"prompt_tokens": 1, "completion_tokens": 1}}),
        json!({"model": "m", "input": "Hello", "stream": true}),
    )
    .await;
    crate::wire_snapshot!("failure_stream", frames);
}

#[tokio::test]
async fn incomplete_stream() {
    let frames = stream_snapshot(
        json!({"content": "cut short", "finish_reason": "length", "usage": {"prompt_tokens": 3, "completion_tokens": 16}}),
        json!({"model": "m", "input": "Hello", "stream": true, "max_output_tokens": 16}),
    )
    .await;
    crate::wire_snapshot!("incomplete_stream", frames);
}
