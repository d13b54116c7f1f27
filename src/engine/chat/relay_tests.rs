//! Tests of the stream relay over in-memory upstream bytes: what passes
//! through, what is normalized, and how the stream ends.

use futures::StreamExt;
use serde_json::{json, Value};

use super::*;

/// Relays `pieces` (then `tail_error`, when given) and returns the client's bytes.
async fn relayed(pieces: &[&str], tail_error: Option<&str>) -> String {
    let mut items: Vec<Result<Bytes, String>> = pieces
        .iter()
        .map(|piece| Ok(Bytes::from(piece.to_string())))
        .collect();
    if let Some(error) = tail_error {
        items.push(Err(error.to_owned()));
    }
    let frames: Vec<Result<Bytes, Infallible>> = normalized_stream(
        futures::stream::iter(items),
        ChunkPipeline::new(ChunkNormalizer::new("requested", false), None),
        ("local".to_owned(), "requested".to_owned()),
        Box::pin(async { 0 }),
    )
    .collect()
    .await;
    frames
        .into_iter()
        .map(|frame| String::from_utf8_lossy(&frame.unwrap_or_default()).into_owned())
        .collect()
}

fn data_payloads(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|frame| frame.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn chunks_are_normalized_and_comments_done_and_non_json_pass_through() {
    let body = relayed(
        &[
            ": keep-alive\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\r\n\r\n",
            "data: not json\n\ndata:\n\n",
            "data: [DONE]\n\ndata: {\"after\":\"done\"}\n\n",
        ],
        None,
    )
    .await;
    assert!(body.starts_with(": keep-alive\n\n"), "{body}");
    let payloads = data_payloads(&body);
    assert_eq!(payloads.len(), 3, "{body}");
    let chunk: Value = serde_json::from_str(&payloads[0]).unwrap_or_default();
    assert_eq!(chunk["object"], "chat.completion.chunk");
    assert_eq!(chunk["model"], "requested");
    assert_eq!(
        chunk["choices"][0]["delta"],
        json!({"role": "assistant", "content": "Hi", "refusal": null})
    );
    assert_eq!(payloads[1], "not json");
    assert_eq!(payloads[2], "[DONE]");
    assert!(body.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn a_stream_that_ends_without_done_gets_one() {
    let body = relayed(
        &["data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}"],
        None,
    )
    .await;
    let payloads = data_payloads(&body);
    assert_eq!(payloads.len(), 2, "{body}");
    assert!(payloads[0].contains("\"finish_reason\":\"stop\""));
    assert_eq!(payloads[1], "[DONE]");
}

#[tokio::test]
async fn a_broken_upstream_ends_with_the_error_chunk_and_no_done() {
    let body = relayed(
        &["data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"],
        Some("connection reset"),
    )
    .await;
    let payloads = data_payloads(&body);
    assert_eq!(payloads.len(), 2, "{body}");
    let error: Value = serde_json::from_str(&payloads[1]).unwrap_or_default();
    assert_eq!(error["error"]["type"], "server_error");
    assert!(error["error"]["param"].is_null() && error["error"]["code"].is_null());
    assert!(error["error"]["message"]
        .as_str()
        .is_some_and(|message| message.contains("connection reset")));
}

#[tokio::test]
async fn an_upstream_error_chunk_is_told_in_openais_words_and_not_followed_by_done() {
    // llama.cpp's mid-stream error object: its internals never reach the client.
    let error = r#"{"error":{"code":500,"message":"CUDA out of memory at ggml-cuda.cu:123","type":"server_error"}}"#;
    let body = relayed(
        &["data: {\"choices\":[]}\n\n", &format!("data: {error}\n\n")],
        None,
    )
    .await;
    let payloads = data_payloads(&body);
    assert_eq!(payloads.len(), 2, "{body}");
    let chunk: Value = serde_json::from_str(&payloads[1]).unwrap_or_default();
    assert_eq!(
        chunk,
        json!({"error": {"message": "The backend 'local' failed (500).", "type": "server_error",
            "param": null, "code": "backend_error"}})
    );
    let overflow = r#"{"error":{"code":400,"message":"request (5000 tokens) exceeds the available context size (4096 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":5000,"n_ctx":4096}}"#;
    let body = relayed(&[&format!("data: {overflow}\n\n")], None).await;
    let chunk: Value = serde_json::from_str(&data_payloads(&body)[0]).unwrap_or_default();
    assert_eq!(chunk["error"]["code"], "context_length_exceeded");
    assert_eq!(chunk["error"]["param"], "messages");
}

#[test]
fn a_json_completion_becomes_the_chunks_openai_would_have_streamed() {
    let completion = normalize_completion(
        json!({"id": "chatcmpl-x", "created": 5, "model": "m",
            "choices": [{"message": {"content": null, "tool_calls": [{"id": "call_1", "function": {"name": "f", "arguments": "{}"}}]}}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 3}}),
        "m",
    );
    let chunks = completion_as_chunks(completion, ChunkNormalizer::new("m", true), true);
    assert_eq!(chunks.len(), 3);
    for chunk in &chunks {
        assert_eq!(
            (chunk["id"].clone(), chunk["created"].clone()),
            (json!("chatcmpl-x"), json!(5))
        );
        assert_eq!(chunk["object"], "chat.completion.chunk");
    }
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": null,
            "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            "refusal": null})
    );
    assert_eq!(chunks[1]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[1]["choices"][0]["finish_reason"], "tool_calls");
    assert!(chunks[1]["usage"].is_null());
    assert_eq!(chunks[2]["choices"], json!([]));
    assert_eq!(chunks[2]["usage"]["total_tokens"], 5);
    let without_usage = completion_as_chunks(recorded(), ChunkNormalizer::new("m", false), false);
    assert_eq!(without_usage.len(), 2);
    assert!(without_usage
        .iter()
        .all(|chunk| chunk.get("usage").is_none()));
}

fn recorded() -> Value {
    normalize_completion(json!({"choices": [{"message": {"content": "hi"}}]}), "m")
}

#[test]
fn an_empty_content_beside_tool_calls_or_a_refusal_becomes_null() {
    let with_calls = normalize_completion(
        json!({"choices": [{"message": {"content": "", "tool_calls": [{"id": "call_1", "function": {"name": "f", "arguments": "{}"}}]}}]}),
        "m",
    );
    assert!(with_calls["choices"][0]["message"]["content"].is_null());
    let refused = normalize_completion(
        json!({"choices": [{"message": {"content": "", "refusal": "No."}}]}),
        "m",
    );
    assert!(refused["choices"][0]["message"]["content"].is_null());
    let text = normalize_completion(json!({"choices": [{"message": {"content": ""}}]}), "m");
    assert_eq!(text["choices"][0]["message"]["content"], "");
}
