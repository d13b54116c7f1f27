//! Chat Completions forwarded to the backend: stream and non-stream, tool calls
//! untouched, errors in the envelope.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_non_stream_completion_is_forwarded_and_answered_as_chat_completion() {
    let app = spawn_app().await;
    app.script(json!({"content": "Hi back"})).await;
    let body =
        json!({"model": "m", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0});
    let (status, answer) = app.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "chat.completion");
    assert!(answer["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(answer["choices"][0]["message"]["content"], "Hi back");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        app.backend_requests().await[0],
        body,
        "the body reaches the backend unchanged"
    );
}

#[tokio::test]
async fn a_streamed_completion_with_tool_calls_passes_through_and_ends_with_done() {
    let app = spawn_app().await;
    app.script(json!({"tool_calls": [{"id": "call_9", "name": "f", "arguments": "{\"x\":1}"}]}))
        .await;
    let (status, content_type, events) = app
        .post_stream(
            "/v1/chat/completions",
            json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "Hi"}],
                   "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/event-stream"));
    assert_eq!(events.last().unwrap().1, json!("[DONE]"));
    let chunks: Vec<&Value> = events
        .iter()
        .map(|(_, data)| data)
        .filter(|data| data.is_object())
        .collect();
    assert!(chunks
        .iter()
        .all(|chunk| chunk["object"] == "chat.completion.chunk"));
    let arguments: String = chunks
        .iter()
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
        })
        .collect();
    assert_eq!(arguments, "{\"x\":1}");
    let ids: Vec<&str> = chunks
        .iter()
        .filter_map(|chunk| chunk["choices"][0]["delta"]["tool_calls"][0]["id"].as_str())
        .collect();
    assert_eq!(ids, ["call_9"]);
    assert!(chunks
        .iter()
        .any(|chunk| chunk["choices"][0]["finish_reason"] == "tool_calls"));
}

#[tokio::test]
async fn backend_errors_come_back_in_the_envelope() {
    let app = spawn_app().await;
    app.script(
        json!([{"error_status": 400, "error_message": "context too long"}, {"error_status": 503}]),
    )
    .await;
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "Hi"}]});
    let (status, answer) = app.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["message"], "context too long");
    let (status, answer) = app.post("/v1/chat/completions", body).await;
    assert_eq!(status, 503);
    assert_eq!(answer["error"]["type"], "server_error");
    let (status, answer) = app
        .post("/v1/chat/completions", json!({"model": "m"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["param"], "messages");
}
