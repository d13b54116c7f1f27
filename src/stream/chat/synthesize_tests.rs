//! Tests of the Chat Completions synthesis: the streamed grammar as openai-python
//! accumulates it, the non-streamed body, and request parsing.

use serde_json::{json, Value};

use super::*;

fn events_with_tool_calls() -> Vec<ChatEvent> {
    vec![
        ChatEvent::ReasoningDelta("think ".into()),
        ChatEvent::ReasoningDelta("hard".into()),
        ChatEvent::TextDelta("Hello ".into()),
        ChatEvent::TextDelta("world".into()),
        ChatEvent::ToolCallStart {
            index: 0,
            call_id: "call_a".into(),
            name: "get_weather".into(),
        },
        ChatEvent::ToolCallArguments {
            index: 0,
            fragment: r#"{"city":"#.into(),
        },
        ChatEvent::ToolCallArguments {
            index: 0,
            fragment: r#""Paris"}"#.into(),
        },
        // A backend that reuses index 0 for the second call of a parallel batch.
        ChatEvent::ToolCallStart {
            index: 0,
            call_id: "call_b".into(),
            name: "get_time".into(),
        },
        ChatEvent::ToolCallArguments {
            index: 0,
            fragment: "{}".into(),
        },
        ChatEvent::Finish(FinishReason::ToolCalls),
        ChatEvent::Usage(TokenUsage {
            prompt_tokens: 10,
            completion_tokens: 5,
            reasoning_tokens: 2,
            cached_tokens: 1,
        }),
    ]
}

fn encode_all(include_usage: bool, events: &[ChatEvent]) -> Vec<Value> {
    let mut encoder = ChunkEncoder::new("mock", include_usage);
    let mut chunks = vec![encoder.first_chunk()];
    for event in events {
        chunks.extend(encoder.encode(event));
    }
    chunks.extend(encoder.usage_chunk());
    chunks
}

fn delta_strings(chunks: &[Value], pointer: &str) -> String {
    chunks
        .iter()
        .filter_map(|chunk| chunk.pointer(pointer).and_then(Value::as_str))
        .collect()
}

/// Every tool-call fragment of the stream, in order.
fn tool_fragments(chunks: &[Value]) -> Vec<Value> {
    chunks
        .iter()
        .filter_map(|chunk| chunk.pointer("/choices/0/delta/tool_calls"))
        .filter_map(Value::as_array)
        .flatten()
        .cloned()
        .collect()
}

#[test]
fn concatenated_deltas_give_back_the_text_and_the_reasoning() {
    let chunks = encode_all(false, &events_with_tool_calls());
    assert_eq!(
        delta_strings(&chunks, "/choices/0/delta/content"),
        "Hello world"
    );
    assert_eq!(
        delta_strings(&chunks, "/choices/0/delta/reasoning_content"),
        "think hard"
    );
    assert_eq!(delta_strings(&chunks, "/choices/0/delta/role"), "assistant");
}

#[test]
fn every_chunk_shares_id_created_and_model() {
    let chunks = encode_all(true, &events_with_tool_calls());
    let first = &chunks[0];
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], first["id"]);
        assert_eq!(chunk["created"], first["created"]);
        assert_eq!(chunk["model"], "mock");
    }
    assert!(first["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("chatcmpl-")));
    assert_eq!(
        first["choices"][0],
        json!({"index": 0, "delta": {"role": "assistant", "content": "", "refusal": null}, "logprobs": null, "finish_reason": null})
    );
}

#[test]
fn a_tool_call_names_its_id_and_name_once_and_then_only_arguments() {
    let fragments = tool_fragments(&encode_all(false, &events_with_tool_calls()));
    for slot in [0, 1] {
        let of_call: Vec<&Value> = fragments
            .iter()
            .filter(|fragment| fragment["index"] == slot)
            .collect();
        assert_eq!(of_call.iter().filter(|f| f.get("id").is_some()).count(), 1);
        assert_eq!(
            of_call
                .iter()
                .filter(|f| f.pointer("/function/name").is_some())
                .count(),
            1
        );
        assert_eq!(of_call[0]["type"], "function");
        assert_eq!(of_call[0]["function"]["arguments"], "");
        for later in &of_call[1..] {
            let keys: Vec<&String> = later
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            assert_eq!(keys, ["index", "function"]);
            assert_eq!(later["function"].as_object().map(|o| o.len()), Some(1));
        }
    }
    let arguments = |slot: u64| -> String {
        fragments
            .iter()
            .filter(|fragment| fragment["index"] == slot)
            .filter_map(|fragment| {
                fragment
                    .pointer("/function/arguments")
                    .and_then(Value::as_str)
            })
            .collect()
    };
    assert_eq!(arguments(0), r#"{"city":"Paris"}"#);
    assert_eq!(arguments(1), "{}");
    assert_eq!(fragments[0]["id"], "call_a");
    assert_eq!(fragments[3]["id"], "call_b");
}

#[test]
fn the_finish_chunk_has_an_empty_delta_and_comes_once() {
    let mut events = events_with_tool_calls();
    events.push(ChatEvent::Finish(FinishReason::Stop));
    events.push(ChatEvent::TextDelta("late".into()));
    let chunks = encode_all(false, &events);
    let finishes: Vec<&Value> = chunks
        .iter()
        .filter(|chunk| !chunk["choices"][0]["finish_reason"].is_null())
        .collect();
    assert_eq!(finishes.len(), 1);
    assert_eq!(finishes[0]["choices"][0]["delta"], json!({}));
    assert_eq!(finishes[0]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(chunks.last(), Some(finishes[0]));
    assert!(chunks.iter().all(|chunk| chunk.get("usage").is_none()));
}

#[test]
fn with_include_usage_every_chunk_has_null_usage_and_the_usage_chunk_is_last() {
    let chunks = encode_all(true, &events_with_tool_calls());
    let (last, rest) = chunks.split_last().expect("chunks");
    assert!(rest
        .iter()
        .all(|chunk| chunk["usage"].is_null() && chunk.get("usage").is_some()));
    assert_eq!(last["choices"], json!([]));
    assert_eq!(
        last["usage"],
        json!({
            "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 1, "audio_tokens": 0, "text_tokens": 10, "image_tokens": 0, "cache_write_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 2, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0, "text_tokens": 3},
        })
    );
}

#[test]
fn the_usage_chunk_is_absent_when_not_asked_for_or_not_seen() {
    let mut encoder = ChunkEncoder::new("mock", false);
    encoder.encode(&ChatEvent::Usage(TokenUsage::default()));
    assert!(encoder.usage_chunk().is_none());
    let mut encoder = ChunkEncoder::new("mock", true);
    assert!(encoder.usage_chunk().is_none());
}

#[test]
fn encode_opens_with_the_role_chunk_when_first_chunk_was_not_called() {
    let mut encoder = ChunkEncoder::new("mock", false);
    let chunks = encoder.encode(&ChatEvent::TextDelta("hi".into()));
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[1]["choices"][0]["delta"], json!({"content": "hi"}));
    assert_eq!(encoder.encode(&ChatEvent::TextDelta("!".into())).len(), 1);
    assert!(encoder
        .encode(&ChatEvent::TextDelta(String::new()))
        .is_empty());
}

#[test]
fn the_completion_body_collects_text_reasoning_calls_and_usage() {
    let body = collect_completion("mock", &events_with_tool_calls());
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("chatcmpl-")));
    assert_eq!(body["model"], "mock");
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["logprobs"].is_null());
    assert_eq!(
        choice["message"],
        json!({
            "role": "assistant",
            "content": "Hello world",
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": r#"{"city":"Paris"}"#}},
                {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
            ],
            "refusal": null,
            "annotations": [],
            "reasoning_content": "think hard",
        })
    );
    assert_eq!(body["usage"]["total_tokens"], 15);
}

#[test]
fn a_completion_with_only_tool_calls_has_null_content_and_plain_text_has_no_extras() {
    let only_calls = vec![
        ChatEvent::ToolCallStart {
            index: 0,
            call_id: "call_1".into(),
            name: "f".into(),
        },
        ChatEvent::ToolCallArguments {
            index: 0,
            fragment: "{}".into(),
        },
    ];
    let body = collect_completion("mock", &only_calls);
    assert!(body["choices"][0]["message"]["content"].is_null());
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");

    let text = vec![
        ChatEvent::TextDelta("hi".into()),
        ChatEvent::Finish(FinishReason::Length),
    ];
    let body = collect_completion("mock", &text);
    assert_eq!(
        body["choices"][0]["message"],
        json!({"role": "assistant", "content": "hi", "refusal": null, "annotations": []})
    );
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(body["usage"]["total_tokens"], 0);
}

#[test]
fn a_request_body_becomes_a_chat_request() {
    let body = json!({
        "model": "m", "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "auto", "parallel_tool_calls": false,
        "response_format": {"type": "json_object"}, "temperature": 0.5, "top_p": 1,
        "max_tokens": 10, "max_completion_tokens": 20, "user": "u", "stream": true,
    });
    let request = chat_request_from_body(&body).expect("valid");
    assert_eq!(request.model, "m");
    assert_eq!(request.messages.len(), 1);
    assert_eq!(request.tools.len(), 1);
    assert_eq!(request.tool_choice, Some(json!("auto")));
    assert_eq!(request.parallel_tool_calls, Some(false));
    assert_eq!(
        request.response_format,
        Some(json!({"type": "json_object"}))
    );
    assert_eq!(request.temperature, Some(0.5));
    assert_eq!(request.top_p, Some(1.0));
    assert_eq!(request.max_tokens, Some(20));
    assert_eq!(request.user.as_deref(), Some("u"));

    let minimal = chat_request_from_body(&json!({"model": "m", "messages": [], "max_tokens": 7}));
    assert_eq!(minimal.expect("valid").max_tokens, Some(7));
}

#[test]
fn a_request_without_model_or_messages_is_refused() {
    let missing = chat_request_from_body(&json!({"messages": []})).expect_err("no model");
    assert!(missing.contains("'model'"), "{missing}");
    let wrong =
        chat_request_from_body(&json!({"model": 3, "messages": []})).expect_err("bad model");
    assert!(
        wrong.contains("'model'") && wrong.contains("integer"),
        "{wrong}"
    );
    let missing = chat_request_from_body(&json!({"model": "m"})).expect_err("no messages");
    assert!(missing.contains("'messages'"), "{missing}");
    let wrong = chat_request_from_body(&json!({"model": "m", "messages": "hi"})).expect_err("bad");
    assert!(wrong.contains("'messages'"), "{wrong}");
    assert!(chat_request_from_body(&json!([1])).is_err());
}
