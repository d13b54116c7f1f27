//! The mock backend over real HTTP: each test binds its own port-0 listener,
//! serves the mock on it and talks to it with reqwest.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::serve;

/// Serves a fresh mock backend and returns its base URL. The listener is bound
/// before the server task starts, so requests can be sent at once.
async fn spawn_mock() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(serve(listener));
    format!("http://{address}")
}

async fn queue(base: &str, scripts: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/control/scripts"))
        .json(&scripts)
        .send()
        .await
        .expect("queue scripts")
}

async fn chat(base: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .expect("chat request")
}

async fn get_json(base: &str, path: &str) -> Value {
    let response = reqwest::get(format!("{base}{path}")).await.expect("get");
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("json")
}

fn user_says(text: &str, stream: bool) -> Value {
    json!({"model": "mock", "messages": [{"role": "user", "content": text}], "stream": stream})
}

/// The `data:` payloads of an SSE body, in order (`[DONE]` kept as a string).
fn data_payloads(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter(|frame| !frame.is_empty())
        .map(|frame| {
            let data = frame.strip_prefix("data: ").expect("data-only frame");
            serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()))
        })
        .collect()
}

fn joined(chunks: &[Value], pointer: &str) -> String {
    chunks
        .iter()
        .filter_map(|chunk| chunk.pointer(pointer).and_then(Value::as_str))
        .collect()
}

#[tokio::test]
async fn an_empty_queue_streams_the_last_user_message_back_and_ends_with_done() {
    let base = spawn_mock().await;
    let response = chat(&base, user_says("hello there world", true)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let body = response.text().await.expect("body");
    assert!(body.ends_with("data: [DONE]\n\n"));
    let payloads = data_payloads(&body);
    let (done, chunks) = payloads.split_last().expect("frames");
    assert_eq!(done, "[DONE]");
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "", "refusal": null})
    );
    assert_eq!(
        joined(chunks, "/choices/0/delta/content"),
        "hello there world"
    );
    let last = chunks.last().expect("finish chunk");
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(chunks.iter().all(|chunk| chunk.get("usage").is_none()));
    assert!(chunks
        .iter()
        .all(|chunk| chunk["model"] == "mock" && chunk["id"] == chunks[0]["id"]));
    let stats = get_json(&base, "/control/stats").await;
    assert_eq!(
        stats,
        json!({"requests": 1, "completed_streams": 1, "disconnected_streams": 0})
    );
}

#[tokio::test]
async fn a_scripted_tool_call_streams_its_id_and_name_once_and_usage_last() {
    let base = spawn_mock().await;
    let script = json!({
        "tool_calls": [
            {"id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            {"name": "get_time", "arguments": "{}"},
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3},
    });
    assert_eq!(
        queue(&base, script)
            .await
            .json::<Value>()
            .await
            .expect("json"),
        json!({"queued": 1})
    );
    let mut body = user_says("weather?", true);
    body["stream_options"] = json!({"include_usage": true});
    let text = chat(&base, body).await.text().await.expect("body");
    let payloads = data_payloads(&text);
    assert_eq!(payloads.last(), Some(&json!("[DONE]")));
    let chunks = &payloads[..payloads.len() - 1];
    let fragments: Vec<&Value> = chunks
        .iter()
        .filter_map(|chunk| chunk.pointer("/choices/0/delta/tool_calls/0"))
        .collect();
    for (slot, id, name) in [
        (0, "call_1", "get_weather"),
        (1, "call_scripted_1", "get_time"),
    ] {
        let of_call: Vec<&&Value> = fragments.iter().filter(|f| f["index"] == slot).collect();
        let ids: Vec<&Value> = of_call.iter().filter_map(|f| f.get("id")).collect();
        let names: Vec<&Value> = of_call
            .iter()
            .filter_map(|f| f.pointer("/function/name"))
            .collect();
        assert_eq!(ids, [id]);
        assert_eq!(names, [name]);
    }
    let arguments: String = fragments
        .iter()
        .filter(|f| f["index"] == 0)
        .filter_map(|f| f.pointer("/function/arguments").and_then(Value::as_str))
        .collect();
    assert_eq!(arguments, "{\"city\":\"Paris\"}");
    let usage_chunk = chunks.last().expect("usage chunk");
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["total_tokens"], 10);
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert!(chunks[..chunks.len() - 1]
        .iter()
        .all(|chunk| chunk["usage"].is_null()));
}

#[tokio::test]
async fn an_error_status_script_answers_that_status_with_an_envelope() {
    let base = spawn_mock().await;
    queue(
        &base,
        json!([
            {"error_status": 503, "error_message": "overloaded"},
            {"error_status": 429},
        ]),
    )
    .await;
    let response = chat(&base, user_says("hi", true)).await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({"error": {"message": "overloaded", "type": "server_error", "param": null, "code": null}})
    );
    let response = chat(&base, user_says("hi", false)).await;
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn a_mid_stream_failure_breaks_the_stream_off_without_done() {
    let base = spawn_mock().await;
    queue(
        &base,
        json!({"content": "one two three four", "fail_after_events": 2}),
    )
    .await;
    let mut response = chat(&base, user_says("hi", true)).await;
    assert_eq!(response.status(), 200);
    let mut received = Vec::new();
    let mut broke = false;
    loop {
        match response.chunk().await {
            Ok(Some(bytes)) => received.extend_from_slice(&bytes),
            Ok(None) => break,
            Err(_) => {
                broke = true;
                break;
            }
        }
    }
    let text = String::from_utf8(received).expect("utf-8");
    assert!(broke, "the body must end with an error, got {text:?}");
    assert!(!text.contains("[DONE]"));
    assert!(!text.contains("finish_reason\":\""));
    assert!(text.contains("one "));

    queue(&base, json!({"fail_after_events": 1})).await;
    let response = chat(&base, user_says("hi", false)).await;
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["type"], "server_error");
    let stats = get_json(&base, "/control/stats").await;
    assert_eq!(stats["completed_streams"], 0);
    assert_eq!(stats["disconnected_streams"], 0);
}

#[tokio::test]
async fn a_non_streamed_answer_is_one_chat_completion() {
    let base = spawn_mock().await;
    queue(&base, json!({"reasoning": "hmm", "content": "Hi!", "usage": {"prompt_tokens": 4, "completion_tokens": 2, "reasoning_tokens": 1}})).await;
    let response = chat(&base, user_says("hello", false)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert!(body["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("chatcmpl-")));
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "mock");
    assert_eq!(
        body["choices"],
        json!([{
            "index": 0,
            "message": {"role": "assistant", "content": "Hi!", "refusal": null, "annotations": [], "reasoning_content": "hmm"},
            "logprobs": null,
            "finish_reason": "stop",
        }])
    );
    assert_eq!(body["usage"]["total_tokens"], 6);
    assert_eq!(
        body["usage"]["completion_tokens_details"]["reasoning_tokens"],
        1
    );
}

#[tokio::test]
async fn an_invalid_chat_request_is_a_400_envelope() {
    let base = spawn_mock().await;
    let response = chat(&base, json!({"messages": []})).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("model")));
}

#[tokio::test]
async fn the_control_endpoints_queue_log_clear_and_count() {
    let base = spawn_mock().await;
    let client = reqwest::Client::new();
    assert_eq!(get_json(&base, "/health").await, json!({"status": "ok"}));
    assert_eq!(get_json(&base, "/v1/models").await["data"][0]["id"], "mock");

    let refused = queue(&base, json!({"contnet": "typo"})).await;
    assert_eq!(refused.status(), 400);
    let refused: Value = refused.json().await.expect("json");
    assert!(refused["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("unknown field")));

    let queued: Value = queue(&base, json!([{"content": "first"}, {"content": "second"}]))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(queued, json!({"queued": 2}));
    let first: Value = chat(&base, user_says("a", false))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(first["choices"][0]["message"]["content"], "first");
    client
        .delete(format!("{base}/control/scripts"))
        .send()
        .await
        .expect("clear scripts");
    let echoed: Value = chat(&base, user_says("b", false))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(echoed["choices"][0]["message"]["content"], "b");

    let log = get_json(&base, "/control/requests").await;
    assert_eq!(
        log["requests"],
        json!([user_says("a", false), user_says("b", false)])
    );
    client
        .delete(format!("{base}/control/requests"))
        .send()
        .await
        .expect("clear log");
    assert_eq!(
        get_json(&base, "/control/requests").await,
        json!({"requests": []})
    );
    assert_eq!(get_json(&base, "/control/stats").await["requests"], 2);
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_is_counted_as_disconnected() {
    let base = spawn_mock().await;
    let words = "word ".repeat(200);
    queue(&base, json!({"content": words, "chunk_delay_ms": 5})).await;
    let mut response = chat(&base, user_says("hi", true)).await;
    response
        .chunk()
        .await
        .expect("first chunk")
        .expect("some bytes");
    drop(response);
    // Waiting for the server to notice, not for readiness: poll with a deadline.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = get_json(&base, "/control/stats").await;
        if stats["disconnected_streams"] == 1 {
            assert_eq!(stats["completed_streams"], 0);
            break;
        }
        assert!(Instant::now() < deadline, "disconnect not noticed: {stats}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
