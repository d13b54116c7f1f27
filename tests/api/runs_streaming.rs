//! Assistants v2 streams: OpenAI's event order for a text answer, for
//! create-thread-and-run ending in `requires_action`, for the
//! submit_tool_outputs stream that continues it, for a failure and a cancel;
//! whole streams pinned as snapshots (ids and timestamps redacted).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};
use crate::runs::{assistant_and_thread, weather_tool};

/// Replaces generated ids by stable placeholders and timestamps by 0.
fn redact(value: &mut Value, ids: &mut HashMap<String, String>) {
    match value {
        Value::Object(object) => {
            for (key, field) in object.iter_mut() {
                if key.ends_with("_at") && field.is_number() {
                    *field = json!(0);
                } else {
                    redact(field, ids);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| redact(item, ids)),
        Value::String(text) => {
            for prefix in ["asst_", "thread_", "run_", "step_", "msg_"] {
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

fn frames_of(events: Vec<(Option<String>, Value)>, ids: &mut HashMap<String, String>) -> Value {
    let mut frames: Value = events
        .into_iter()
        .map(|(name, data)| json!({"event": name, "data": data}))
        .collect();
    redact(&mut frames, ids);
    frames
}

fn names(events: &[(Option<String>, Value)]) -> Vec<String> {
    let mut collapsed: Vec<String> = Vec::new();
    for (name, _) in events {
        let name = name.clone().unwrap_or_default();
        if collapsed.last() != Some(&name) {
            collapsed.push(name);
        }
    }
    collapsed
}

async fn stream(app: &TestApp, path: &str, body: Value) -> Vec<(Option<String>, Value)> {
    let (status, content_type, events) = app.post_stream(path, body).await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    events
}

#[tokio::test]
async fn a_streamed_run_follows_openais_order() {
    let app = spawn_app().await;
    app.script(json!({"content": "Hello there friend", "usage": {"prompt_tokens": 7, "completion_tokens": 3}})).await;
    let (assistant, thread) =
        assistant_and_thread(&app, json!({"model": "m", "instructions": "Be nice."})).await;
    let events = stream(
        &app,
        &format!("/v1/threads/{thread}/runs"),
        json!({"assistant_id": assistant, "stream": true}),
    )
    .await;
    assert_eq!(
        names(&events),
        [
            "thread.run.created",
            "thread.run.queued",
            "thread.run.in_progress",
            "thread.run.step.created",
            "thread.run.step.in_progress",
            "thread.message.created",
            "thread.message.in_progress",
            "thread.message.delta",
            "thread.message.completed",
            "thread.run.step.completed",
            "thread.run.completed",
            "done",
        ]
    );
    let deltas: Vec<&Value> = events
        .iter()
        .filter(|(name, _)| name.as_deref() == Some("thread.message.delta"))
        .map(|(_, data)| data)
        .collect();
    assert_eq!(
        deltas[0]["delta"]["content"][0]["text"]["annotations"],
        json!([])
    );
    assert!(deltas[1]["delta"]["content"][0]["text"]
        .get("annotations")
        .is_none());
    let text: String = deltas
        .iter()
        .map(|delta| {
            delta["delta"]["content"][0]["text"]["value"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(text, "Hello there friend");
    assert_eq!(events.last().unwrap().1, json!("[DONE]"));
    crate::wire_snapshot!(
        "assistants_text_run_stream",
        frames_of(events, &mut HashMap::new())
    );
}

#[tokio::test]
async fn tool_calls_stream_to_requires_action_and_the_submit_stream_continues() {
    let app = spawn_app().await;
    app.script(json!([
        {"tool_calls": [{"id": "call_w", "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}], "chunk_chars": 6,
         "usage": {"prompt_tokens": 20, "completion_tokens": 5}},
        {"content": "Wear a coat.", "usage": {"prompt_tokens": 30, "completion_tokens": 4}}
    ]))
    .await;
    let assistant =
        crate::assistants::create_assistant(&app, json!({"model": "m", "tools": [weather_tool()]}))
            .await;
    let first = stream(
        &app,
        "/v1/threads/runs",
        json!({"assistant_id": assistant["id"], "thread": {"messages": [{"role": "user", "content": "What to wear?"}]}, "stream": true}),
    )
    .await;
    assert_eq!(
        names(&first),
        [
            "thread.created",
            "thread.run.created",
            "thread.run.queued",
            "thread.run.in_progress",
            "thread.run.step.created",
            "thread.run.step.in_progress",
            "thread.run.step.delta",
            "thread.run.requires_action",
            "done",
        ]
    );
    let deltas: Vec<&Value> = first
        .iter()
        .filter(|(name, _)| name.as_deref() == Some("thread.run.step.delta"))
        .map(|(_, data)| &data["delta"]["step_details"]["tool_calls"][0])
        .collect();
    assert_eq!(deltas[0]["id"], "call_w");
    assert_eq!(
        deltas[0]["function"],
        json!({"name": "get_weather", "arguments": "", "output": null})
    );
    assert!(deltas
        .iter()
        .skip(1)
        .all(|delta| delta.get("id").is_none() && delta["function"].get("name").is_none()));
    let arguments: String = deltas
        .iter()
        .filter_map(|delta| delta["function"]["arguments"].as_str())
        .collect();
    assert_eq!(arguments, "{\"city\":\"Oslo\"}");
    let run = &first[first.len() - 2].1;
    let (thread, run_id) = (
        run["thread_id"].as_str().unwrap(),
        run["id"].as_str().unwrap(),
    );
    let second = stream(
        &app,
        &format!("/v1/threads/{thread}/runs/{run_id}/submit_tool_outputs"),
        json!({"tool_outputs": [{"tool_call_id": "call_w", "output": "3 C and rain"}], "stream": true}),
    )
    .await;
    assert_eq!(
        names(&second),
        [
            "thread.run.step.completed",
            "thread.run.queued",
            "thread.run.in_progress",
            "thread.run.step.created",
            "thread.run.step.in_progress",
            "thread.message.created",
            "thread.message.in_progress",
            "thread.message.delta",
            "thread.message.completed",
            "thread.run.step.completed",
            "thread.run.completed",
            "done",
        ]
    );
    assert_eq!(
        second[0].1["step_details"]["tool_calls"][0]["function"]["output"],
        "3 C and rain"
    );
    assert_eq!(second[second.len() - 2].1["usage"]["total_tokens"], 59);
    let mut ids = HashMap::new();
    crate::wire_snapshot!(
        "assistants_requires_action_stream",
        frames_of(first, &mut ids)
    );
    crate::wire_snapshot!(
        "assistants_submit_tool_outputs_stream",
        frames_of(second, &mut ids)
    );
}

#[tokio::test]
async fn a_backend_failure_streams_the_failed_run() {
    let app = spawn_app().await;
    app.script(json!({"content": "one two three", "fail_after_events": 2, "usage": {"prompt_tokens": 1, "completion_tokens": 1}})).await;
    let (assistant, thread) = assistant_and_thread(&app, json!({"model": "m"})).await;
    let events = stream(
        &app,
        &format!("/v1/threads/{thread}/runs"),
        json!({"assistant_id": assistant, "stream": true}),
    )
    .await;
    let collapsed = names(&events);
    assert_eq!(
        collapsed[collapsed.len() - 4..],
        [
            "thread.message.incomplete",
            "thread.run.step.failed",
            "thread.run.failed",
            "done"
        ]
    );
    crate::wire_snapshot!(
        "assistants_failed_run_stream",
        frames_of(events, &mut HashMap::new())
    );
}

#[tokio::test]
async fn a_cancelled_stream_ends_with_the_cancelled_run() {
    let app = spawn_app().await;
    app.script(json!({"content": "a b c d e f g h i j", "chunk_delay_ms": 150}))
        .await;
    let (assistant, thread) = assistant_and_thread(&app, json!({"model": "m"})).await;
    let streaming = {
        let client = app.client.clone();
        let url = app.url(&format!("/v1/threads/{thread}/runs"));
        let body = json!({"assistant_id": assistant, "stream": true});
        tokio::spawn(async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let run_id = loop {
        let (_, runs) = app.get(&format!("/v1/threads/{thread}/runs")).await;
        if runs["data"][0]["status"] == "in_progress" {
            break runs["data"][0]["id"].as_str().unwrap().to_owned();
        }
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = app
        .post(
            &format!("/v1/threads/{thread}/runs/{run_id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let text = streaming.await.unwrap();
    let events = crate::helpers::parse_sse(&text);
    let collapsed = names(&events);
    assert_eq!(
        collapsed[collapsed.len() - 4..],
        [
            "thread.message.incomplete",
            "thread.run.step.cancelled",
            "thread.run.cancelled",
            "done"
        ]
    );
}
