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

/// The JSON chunks of a chat stream, `[DONE]` and comments left out.
fn chunks(events: &[(Option<String>, Value)]) -> Vec<Value> {
    events
        .iter()
        .map(|(_, data)| data.clone())
        .filter(Value::is_object)
        .collect()
}

fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .map(|object| object.keys().cloned().collect())
        .unwrap_or_default()
}

fn stream_request() -> Value {
    json!({"model": "local", "stream": true, "messages": [{"role": "user", "content": "Hi"}]})
}

#[tokio::test]
async fn a_partial_local_answer_is_completed_to_openais_shape_keeping_every_value() {
    let app = spawn_app().await;
    app.script(json!({"raw_body": {
        "choices": [{"message": {"content": "Hi back", "reasoning_content": "short"}}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 2},
        "timings": {"predicted_ms": 3},
    }}))
    .await;
    let (status, answer) = app
        .post(
            "/v1/chat/completions",
            json!({"model": "local", "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        keys(&answer),
        [
            "id",
            "object",
            "created",
            "model",
            "choices",
            "usage",
            "service_tier",
            "system_fingerprint",
            "timings"
        ]
    );
    assert!(answer["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(answer["object"], "chat.completion");
    assert!(answer["created"].as_i64().unwrap() > 0);
    assert_eq!(answer["model"], "local");
    assert_eq!(answer["service_tier"], "default");
    assert!(answer["system_fingerprint"].is_null());
    assert_eq!(answer["timings"], json!({"predicted_ms": 3}));
    assert_eq!(
        answer["choices"],
        json!([{
            "index": 0,
            "message": {"role": "assistant", "content": "Hi back", "refusal": null, "annotations": [], "reasoning_content": "short"},
            "logprobs": null,
            "finish_reason": "stop",
        }])
    );
    assert_eq!(
        answer["usage"],
        json!({
            "prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0, "text_tokens": 4, "image_tokens": 0, "cache_write_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0, "text_tokens": 2},
        })
    );
}

#[tokio::test]
async fn repeated_roles_ids_and_names_are_sent_once_and_reused_indexes_renumbered() {
    let app = spawn_app().await;
    // llama-cpp-python repeats role, id, type and name in every delta; Ollama
    // sends a parallel batch with every call at index 0; ids and created differ.
    let call = |id: &str, name: &str, arguments: &str| json!({"index": 0, "id": id, "type": "function", "function": {"name": name, "arguments": arguments}});
    let chunk = |id: Value, created: Value, call: Value| json!({"id": id, "created": created, "model": "qwen", "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [call]}}]});
    app.script(json!({"raw_chunks": [
        chunk(json!("chatcmpl-first"), json!(100), call("call_a", "f", "{\"x\"")),
        chunk(json!("chatcmpl-second"), json!(101), call("call_a", "f", ":1}")),
        chunk(Value::Null, Value::Null, call("call_b", "g", "{}")),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]}))
    .await;
    let (status, _, events) = app
        .post_stream("/v1/chat/completions", stream_request())
        .await;
    assert_eq!(status, 200);
    assert_eq!(events.last().unwrap().1, json!("[DONE]"));
    let chunks = chunks(&events);
    assert_eq!(chunks.len(), 4);
    for chunk in &chunks {
        assert_eq!(chunk["id"], "chatcmpl-first");
        assert_eq!(chunk["created"], 100);
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "qwen");
        assert_eq!(
            keys(chunk),
            [
                "id",
                "object",
                "created",
                "model",
                "service_tier",
                "system_fingerprint",
                "choices",
                "obfuscation"
            ]
        );
        assert!(chunk["obfuscation"].is_string());
        assert_eq!(
            keys(&chunk["choices"][0]),
            ["index", "delta", "logprobs", "finish_reason"]
        );
    }
    let roles = chunks
        .iter()
        .filter(|chunk| chunk["choices"][0]["delta"].get("role").is_some());
    assert_eq!(roles.count(), 1);
    let fragments: Vec<Value> = chunks
        .iter()
        .filter_map(|chunk| chunk["choices"][0]["delta"]["tool_calls"].as_array())
        .flatten()
        .cloned()
        .collect();
    assert_eq!(
        fragments,
        [
            json!({"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{\"x\""}}),
            json!({"index": 0, "function": {"arguments": ":1}"}}),
            json!({"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}}),
        ]
    );
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "tool_calls");
    assert!(chunks[0]["choices"][0]["finish_reason"].is_null());
}

#[tokio::test]
async fn a_stream_without_done_gets_one_and_usage_is_null_until_the_usage_chunk() {
    let app = spawn_app().await;
    app.script(json!({"raw_without_done": true, "raw_chunks": [
        {"id": "chatcmpl-1", "created": 5, "model": "m", "choices": [{"index": 0, "delta": {"content": "Hi"}}]},
        {"id": "chatcmpl-1", "created": 5, "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"id": "chatcmpl-1", "created": 5, "model": "m", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}},
    ]}))
    .await;
    let mut request = stream_request();
    request["stream_options"] = json!({"include_usage": true});
    let (status, _, events) = app.post_stream("/v1/chat/completions", request).await;
    assert_eq!(status, 200);
    assert_eq!(events.last().unwrap().1, json!("[DONE]"));
    let chunks = chunks(&events);
    assert_eq!(chunks.len(), 3);
    assert!(chunks[..2]
        .iter()
        .all(|chunk| chunk.get("usage") == Some(&Value::Null)));
    assert_eq!(
        chunks[2]["usage"]["completion_tokens_details"]["reasoning_tokens"],
        0
    );
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "Hi", "refusal": null})
    );
}

#[tokio::test]
async fn a_backend_that_breaks_mid_stream_ends_with_openais_error_chunk() {
    let app = spawn_app().await;
    app.script(json!({"content": "one two three four", "fail_after_events": 2}))
        .await;
    let (status, _, events) = app
        .post_stream("/v1/chat/completions", stream_request())
        .await;
    assert_eq!(status, 200);
    let (_, last) = events.last().unwrap();
    assert_eq!(last["error"]["type"], "server_error");
    assert!(last["error"]["param"].is_null() && last["error"]["code"].is_null());
    assert!(!events.iter().any(|(_, data)| data == "[DONE]"));
    let text: String = chunks(&events)
        .iter()
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "one two ");
}

#[tokio::test]
async fn a_backend_that_ignores_stream_is_answered_as_chunks() {
    let app = spawn_app().await;
    app.script(json!({"raw_body": {"id": "chatcmpl-json", "created": 9, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}]}}))
        .await;
    let (status, content_type, events) = app
        .post_stream("/v1/chat/completions", stream_request())
        .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/event-stream"));
    let chunks = chunks(&events);
    assert_eq!(chunks.len(), 2);
    assert!(chunks
        .iter()
        .all(|chunk| chunk["id"] == "chatcmpl-json" && chunk["object"] == "chat.completion.chunk"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["content"], "whole");
    assert_eq!(chunks[1]["choices"][0]["finish_reason"], "stop");
    assert_eq!(events.last().unwrap().1, json!("[DONE]"));
}

/// The shape of a JSON value: its keys, recursively, without the values.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(key, value)| (key.clone(), shape(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        _ => Value::Null,
    }
}

#[tokio::test]
async fn in_process_and_proxied_answers_have_the_same_shape() {
    let app = spawn_app().await;
    let (base, _directory) = crate::embeddings::spawn_in_process_app().await;
    let body = |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "Hi there"}]});
    let (status, proxied) = app.post("/v1/chat/completions", body("m")).await;
    assert_eq!(status, 200);
    let in_process: Value = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .json(&body("echo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shape(&in_process).to_string(), shape(&proxied).to_string());
    assert_eq!(in_process["choices"][0]["message"]["content"], "Hi there");
}

#[tokio::test]
async fn bad_requests_are_openais_400_before_the_backend_and_unknown_parameters_pass_through() {
    let app = spawn_app().await;
    for (body, param, code) in [
        (
            json!({"model": "m", "messages": []}),
            "messages",
            "empty_array",
        ),
        (
            json!({"model": "m", "messages": "hi"}),
            "messages",
            "invalid_type",
        ),
        (
            json!({"model": "m", "messages": [{"role": "bogus", "content": "x"}]}),
            "messages[0].role",
            "invalid_value",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 3}),
            "temperature",
            "decimal_above_max_value",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}),
            "stream",
            "invalid_type",
        ),
    ] {
        let (status, error) = app.post("/v1/chat/completions", body.clone()).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(
            (
                error["error"]["param"].as_str(),
                error["error"]["code"].as_str()
            ),
            (Some(param), Some(code)),
            "{body}"
        );
        assert_eq!(error["error"]["type"], "invalid_request_error");
    }
    assert!(
        app.backend_requests().await.is_empty(),
        "nothing reached the backend"
    );
    // A local server's own parameters are its business.
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "top_k": 40, "repeat_penalty": 1.1});
    let (status, answer) = app.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.backend_requests().await[0], body);
}
