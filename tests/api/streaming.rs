//! Responses streams: the grammar on the wire, failures before and during the
//! stream, and a client that goes away.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{collapsed, event_types, spawn_app, spawn_app_with, Options};

/// Checks the invariants every Responses stream must keep, and returns the terminal response.
fn assert_grammar(events: &[(Option<String>, Value)]) -> Value {
    assert!(!events.is_empty());
    for (index, (name, data)) in events.iter().enumerate() {
        assert_eq!(
            name.as_deref(),
            data["type"].as_str(),
            "event: must equal data.type"
        );
        assert_eq!(
            data["sequence_number"], index as u64,
            "sequence numbers from 0 without gaps"
        );
        assert_ne!(data, &json!("[DONE]"), "no [DONE] on Responses streams");
    }
    assert_eq!(events[0].1["type"], "response.created");
    assert_eq!(events[0].1["response"]["output"], json!([]));
    assert_eq!(events[0].1["response"]["usage"], Value::Null);
    assert_eq!(events[1].1["type"], "response.in_progress");
    let id = events[0].1["response"]["id"].clone();
    let terminal: Vec<&Value> = events
        .iter()
        .map(|(_, data)| data)
        .filter(|data| {
            [
                "response.completed",
                "response.incomplete",
                "response.failed",
            ]
            .contains(&data["type"].as_str().unwrap())
        })
        .collect();
    assert_eq!(terminal.len(), 1, "exactly one terminal event");
    assert_eq!(
        events.last().unwrap().1["type"],
        terminal[0]["type"],
        "the terminal event is last"
    );
    for (_, data) in events {
        if let Some(response) = data.get("response") {
            assert_eq!(
                response["id"], id,
                "same response id on every lifecycle event"
            );
        }
    }
    // Items: added with empty content/arguments at the next index, done with the same id.
    let mut added: Vec<Value> = Vec::new();
    for (_, data) in events {
        match data["type"].as_str().unwrap() {
            "response.output_item.added" => {
                assert_eq!(data["output_index"], added.len() as u64);
                let item = &data["item"];
                if item["type"] == "message" {
                    assert_eq!(item["content"], json!([]));
                }
                if item["type"] == "function_call" {
                    assert_eq!(item["arguments"], "");
                }
                added.push(item.clone());
            }
            "response.output_item.done" => {
                let index = data["output_index"].as_u64().unwrap() as usize;
                assert_eq!(data["item"]["id"], added[index]["id"]);
            }
            _ => {
                if let Some(item_id) = data.get("item_id") {
                    let index = data["output_index"].as_u64().unwrap() as usize;
                    assert_eq!(item_id, &added[index]["id"]);
                }
            }
        }
    }
    let response = terminal[0]["response"].clone();
    assert_eq!(
        response["output"].as_array().unwrap().len(),
        added.len(),
        "the terminal event carries every item"
    );
    response
}

#[tokio::test]
async fn a_streamed_text_answer_follows_openais_grammar_and_is_stored() {
    let app = spawn_app().await;
    app.script(json!({"content": "Hello streaming world"}))
        .await;
    let (status, content_type, events) = app
        .post_stream(
            "/v1/responses",
            json!({"model": "m", "input": "Hi", "stream": true}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/event-stream"));
    let response = assert_grammar(&events);
    assert_eq!(
        collapsed(&event_types(&events)),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    let deltas: String = events
        .iter()
        .filter(|(_, data)| data["type"] == "response.output_text.delta")
        .map(|(_, data)| data["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, "Hello streaming world");
    assert_eq!(response["status"], "completed");
    assert_eq!(
        response["output"][0]["content"][0]["text"],
        "Hello streaming world"
    );
    let (_, stored) = app
        .get(&format!(
            "/v1/responses/{}",
            response["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        stored, response,
        "the stored object equals the terminal event's"
    );
}

#[tokio::test]
async fn a_streamed_function_call_has_argument_deltas_and_a_named_done() {
    let app = spawn_app().await;
    app.script(json!({"tool_calls": [{"id": "call_1", "name": "lookup", "arguments": "{\"q\":\"rust sse\"}"}]})).await;
    let tools = json!([{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]);
    let (_, _, events) = app
        .post_stream(
            "/v1/responses",
            json!({"model": "m", "input": "find", "tools": tools, "stream": true}),
        )
        .await;
    let response = assert_grammar(&events);
    assert_eq!(
        collapsed(&event_types(&events)),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    let done = events
        .iter()
        .find(|(_, data)| data["type"] == "response.function_call_arguments.done")
        .unwrap();
    assert_eq!(done.1["arguments"], "{\"q\":\"rust sse\"}");
    assert_eq!(done.1["name"], "lookup");
    assert_eq!(response["output"][0]["call_id"], "call_1");
}

#[tokio::test]
async fn a_backend_failure_mid_stream_ends_with_response_failed_and_is_stored_failed() {
    let app = spawn_app().await;
    app.script(json!({"content": "one two three four five six", "fail_after_events": 3}))
        .await;
    let (status, _, events) = app
        .post_stream(
            "/v1/responses",
            json!({"model": "m", "input": "Hi", "stream": true}),
        )
        .await;
    assert_eq!(status, 200);
    let response = assert_grammar(&events);
    assert_eq!(events.last().unwrap().1["type"], "response.failed");
    assert_eq!(response["status"], "failed");
    assert_eq!(response["error"]["code"], "server_error");
    assert_eq!(response["output"][0]["status"], "incomplete");
    let (_, stored) = app
        .get(&format!(
            "/v1/responses/{}",
            response["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored["status"], "failed");
}

#[tokio::test]
async fn a_backend_error_before_the_first_token_is_an_http_error_that_must_not_be_retried() {
    let app = spawn_app().await;
    app.script(json!({"error_status": 500, "error_message": "model crashed"}))
        .await;
    let answer = app
        .client
        .post(app.url("/v1/responses"))
        .json(&json!({"model": "m", "input": "Hi", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 502);
    assert_eq!(answer.headers()["x-should-retry"], "false");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["type"], "server_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("model crashed"));
    for key in ["message", "type", "param", "code"] {
        assert!(body["error"].get(key).is_some());
    }
    assert_eq!(app.backend_requests().await.len(), 1);
}

#[tokio::test]
async fn an_unreachable_backend_is_a_503_not_a_hang() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = spawn_app_with(Options {
        backend_url: Some(format!("http://127.0.0.1:{port}/v1")),
        ..Options::default()
    })
    .await;
    let (status, body) = app
        .post("/v1/responses", json!({"model": "m", "input": "Hi"}))
        .await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "backend_unavailable");
}

#[tokio::test]
async fn a_client_that_disconnects_does_not_stop_the_response_from_completing() {
    let app = spawn_app().await;
    app.script(json!({"content": "a b c d e f g h", "chunk_delay_ms": 30}))
        .await;
    let mut answer = app
        .client
        .post(app.url("/v1/responses"))
        .json(&json!({"model": "m", "input": "Hi", "stream": true}))
        .send()
        .await
        .unwrap();
    let first = answer.chunk().await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&first).to_string();
    let created: Value =
        serde_json::from_str(text.lines().nth(1).unwrap().strip_prefix("data: ").unwrap()).unwrap();
    let id = created["response"]["id"].as_str().unwrap().to_owned();
    drop(answer);
    let mut status = Value::Null;
    for _ in 0..100 {
        let (_, stored) = app.get(&format!("/v1/responses/{id}")).await;
        status = stored["status"].clone();
        if status == "completed" {
            assert_eq!(stored["output"][0]["content"][0]["text"], "a b c d e f g h");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, "completed");
}

#[tokio::test]
async fn streaming_get_of_a_non_background_response_is_refused() {
    let app = spawn_app().await;
    let (_, created) = app
        .post("/v1/responses", json!({"model": "m", "input": "Hi"}))
        .await;
    let (status, body) = app
        .get(&format!(
            "/v1/responses/{}?stream=true",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "stream");
}
