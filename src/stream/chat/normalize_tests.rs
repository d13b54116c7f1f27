//! Tests of the Chat Completions normalizer: partial answers of local servers
//! come out in OpenAI's shape with every sent value kept; OpenAI's own recorded
//! answers come out byte for byte unchanged; streamed deltas accumulate, the way
//! openai-python does it, into what the backend meant.

use serde_json::{json, Map, Value};

use super::*;

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .map(|object| object.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// openai-python's `accumulate_delta`: strings are concatenated, `index` and
/// `type` replaced, lists merged by their entries' `index`.
fn accumulate(into: &mut Map<String, Value>, delta: &Map<String, Value>) {
    for (key, value) in delta {
        match (into.get_mut(key), value) {
            (None, _) | (Some(Value::Null), _) => {
                into.insert(key.clone(), value.clone());
            }
            (Some(_), _) if key == "index" || key == "type" => {
                into.insert(key.clone(), value.clone());
            }
            (Some(Value::String(text)), Value::String(more)) => text.push_str(more),
            (Some(Value::Object(inner)), Value::Object(more)) => accumulate(inner, more),
            (Some(Value::Array(entries)), Value::Array(more)) => {
                for entry in more {
                    let index = entry["index"]
                        .as_u64()
                        .expect("list entries carry an index");
                    let existing = entries
                        .iter_mut()
                        .find(|e| e["index"].as_u64() == Some(index));
                    match (existing, entry) {
                        (Some(Value::Object(existing)), Value::Object(entry)) => {
                            accumulate(existing, entry)
                        }
                        _ => entries.push(entry.clone()),
                    }
                }
            }
            (Some(existing), _) => *existing = value.clone(),
        }
    }
}

/// The accumulated delta of choice 0 over normalized chunks.
fn accumulated(chunks: &[Value]) -> Value {
    let mut message = Map::new();
    for chunk in chunks {
        if let Some(Value::Object(delta)) = chunk.pointer("/choices/0/delta") {
            accumulate(&mut message, delta);
        }
    }
    Value::Object(message)
}

fn normalize_all(chunks: Vec<Value>) -> Vec<Value> {
    let mut normalizer = ChunkNormalizer::new("requested", false);
    chunks
        .into_iter()
        .map(|chunk| normalizer.normalize(chunk))
        .collect()
}

#[test]
fn a_partial_completion_gets_openai_keys_in_openai_order_and_keeps_its_values() {
    let body = json!({
        "choices": [{"message": {"content": "Hi", "reasoning_content": "hmm"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
        "timings": {"predicted_ms": 12.5},
    });
    let answer = normalize_completion(body, "requested");
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
    assert!(answer["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("chatcmpl-")));
    assert_eq!(answer["object"], "chat.completion");
    assert!(answer["created"]
        .as_i64()
        .is_some_and(|created| created > 1_600_000_000));
    assert_eq!(answer["model"], "requested");
    assert_eq!(answer["service_tier"], "default");
    assert!(answer["system_fingerprint"].is_null());
    assert_eq!(answer["timings"], json!({"predicted_ms": 12.5}));
    assert_eq!(
        answer["choices"][0],
        json!({
            "index": 0,
            "message": {"role": "assistant", "content": "Hi", "refusal": null, "annotations": [], "reasoning_content": "hmm"},
            "logprobs": null,
            "finish_reason": "length",
        })
    );
    assert_eq!(
        keys(&answer["choices"][0]),
        ["index", "message", "logprobs", "finish_reason"]
    );
    assert_eq!(
        answer["usage"],
        json!({
            "prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0, "text_tokens": 3, "image_tokens": 0, "cache_write_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0, "text_tokens": 2},
        })
    );
}

#[test]
fn tool_calls_get_ids_types_and_string_arguments_and_finish_with_tool_calls() {
    let body = json!({
        "id": "chatcmpl-local", "created": 7, "model": "qwen",
        "choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": [
            {"function": {"name": "f", "arguments": {"x": 1}}},
            {"id": "call_kept", "type": "function", "function": {"name": "g", "arguments": "{}"}, "index": 1},
        ]}}],
    });
    let answer = normalize_completion(body, "requested");
    assert_eq!(
        (
            answer["id"].clone(),
            answer["created"].clone(),
            answer["model"].clone()
        ),
        (json!("chatcmpl-local"), json!(7), json!("qwen"))
    );
    let message = &answer["choices"][0]["message"];
    assert_eq!(
        keys(message),
        ["role", "content", "tool_calls", "refusal", "annotations"]
    );
    assert!(message["content"].is_null());
    let first = &message["tool_calls"][0];
    assert!(first["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("call_")));
    assert_eq!(first["type"], "function");
    assert_eq!(
        first["function"],
        json!({"name": "f", "arguments": "{\"x\":1}"})
    );
    assert_eq!(
        message["tool_calls"][1],
        json!({"id": "call_kept", "type": "function", "function": {"name": "g", "arguments": "{}"}, "index": 1})
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(answer["usage"]["total_tokens"], 0);
}

#[test]
fn usage_details_are_filled_around_what_was_sent() {
    let usage = normalize_usage(json!({
        "prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 99,
        "prompt_tokens_details": {"cached_tokens": 6, "image_tokens": 1},
        "completion_tokens_details": null,
        "prompt_tokens_per_second": 3.5,
    }));
    assert_eq!(
        usage.to_string(),
        json!({
            "prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 99,
            "prompt_tokens_details": {"cached_tokens": 6, "audio_tokens": 0, "text_tokens": 9, "image_tokens": 1, "cache_write_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0, "text_tokens": 4},
            "prompt_tokens_per_second": 3.5,
        })
        .to_string()
    );
    // OpenAI's audio models send the text share; it is what audio and images leave.
    let audio = normalize_usage(json!({
        "prompt_tokens": 42, "completion_tokens": 24,
        "prompt_tokens_details": {"audio_tokens": 25},
        "completion_tokens_details": {"audio_tokens": 19, "text_tokens": 5},
    }));
    assert_eq!(audio["prompt_tokens_details"]["text_tokens"], 17);
    assert_eq!(audio["completion_tokens_details"]["text_tokens"], 5);
    assert!(normalize_usage(Value::Null).is_null());
}

/// A real OpenAI answer (recorded in the conformance cassettes).
fn recorded_completion() -> Value {
    json!({
        "id": "chatcmpl-CGSWpgv2liNopYOnACne3iO9W1FLr", "object": "chat.completion", "created": 1758038947,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "call_FLIeJkaqR9wfk9fA0mOEtMcq", "type": "function",
                "function": {"name": "get_number_for_word", "arguments": "{\"word\":\"banana\"}"}}],
            "refusal": null, "annotations": []}, "logprobs": null, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 58, "completion_tokens": 16, "total_tokens": 74,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
        "service_tier": "default", "system_fingerprint": "fp_560af6e559",
    })
}

/// `usage` with the token details OpenAI sends only for some models (audio,
/// prompt caching), which Portico always sends.
fn with_all_details(mut usage: Value) -> Value {
    let (prompt, completion) = (
        usage["prompt_tokens"].clone(),
        usage["completion_tokens"].clone(),
    );
    let prompt_details = &mut usage["prompt_tokens_details"];
    prompt_details["text_tokens"] = prompt;
    prompt_details["image_tokens"] = json!(0);
    prompt_details["cache_write_tokens"] = json!(0);
    usage["completion_tokens_details"]["text_tokens"] = completion;
    usage
}

#[test]
fn openai_answers_are_left_byte_for_byte_unchanged_but_for_the_extra_token_details() {
    let mut recorded = recorded_completion();
    let normalized = normalize_completion(recorded.clone(), "other");
    recorded["usage"] = with_all_details(recorded["usage"].clone());
    assert_eq!(normalized.to_string(), recorded.to_string());
    let base = json!({"id": "chatcmpl-D7T", "object": "chat.completion.chunk", "created": 1770674959,
        "model": "gpt-4o-2024-08-06", "service_tier": "default", "system_fingerprint": "fp_ad98c18a04"});
    let with = |choices: Value, usage: Value| {
        let mut chunk = base.clone();
        chunk["choices"] = choices;
        chunk["usage"] = usage;
        chunk["obfuscation"] = json!("b");
        chunk
    };
    let stream = vec![
        with(
            json!([{"index": 0, "delta": {"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": "call_K", "type": "function", "function": {"name": "f", "arguments": ""}}], "refusal": null}, "logprobs": null, "finish_reason": null}]),
            Value::Null,
        ),
        with(
            json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\""}}]}, "logprobs": null, "finish_reason": null}]),
            Value::Null,
        ),
        with(
            json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "tool_calls"}]),
            Value::Null,
        ),
        with(json!([]), recorded_completion()["usage"].clone()),
    ];
    let mut normalizer = ChunkNormalizer::new("other", true).with_obfuscation(true);
    for mut chunk in stream {
        let normalized = normalizer.normalize(chunk.clone()).to_string();
        if chunk["usage"].is_object() {
            chunk["usage"] = with_all_details(chunk["usage"].clone());
        }
        assert_eq!(normalized, chunk.to_string());
    }
}

#[test]
fn every_chunk_gets_the_first_chunks_id_and_created_and_the_missing_keys() {
    let mut normalizer = ChunkNormalizer::new("requested", true);
    let first = normalizer.normalize(json!({"choices": [{"delta": {"content": "a"}}]}));
    let second = normalizer.normalize(
        json!({"id": "chatcmpl-other", "created": 1, "model": "m2", "object": "chat.completion",
        "choices": [{"index": 0, "delta": {"content": "b"}, "finish_reason": "stop"}]}),
    );
    let usage = normalizer
        .normalize(json!({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}));
    assert_eq!(
        keys(&first),
        [
            "id",
            "object",
            "created",
            "model",
            "service_tier",
            "system_fingerprint",
            "choices",
            "usage"
        ]
    );
    assert!(first["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("chatcmpl-")));
    for chunk in [&second, &usage] {
        assert_eq!(chunk["id"], first["id"]);
        assert_eq!(chunk["created"], first["created"]);
        assert_eq!(chunk["object"], "chat.completion.chunk");
    }
    assert_eq!(first["model"], "requested");
    assert_eq!(second["model"], "m2");
    assert!(first["usage"].is_null() && second["usage"].is_null());
    assert_eq!(
        first["choices"][0],
        json!({"index": 0, "delta": {"role": "assistant", "content": "a", "refusal": null}, "logprobs": null, "finish_reason": null})
    );
    assert_eq!(
        second["choices"][0],
        json!({"index": 0, "delta": {"content": "b"}, "logprobs": null, "finish_reason": "stop"})
    );
    assert_eq!(usage["usage"]["total_tokens"], 3);
    assert_eq!(
        usage["usage"]["completion_tokens_details"]["rejected_prediction_tokens"],
        0
    );
    let mut without_usage = ChunkNormalizer::new("requested", false);
    assert!(without_usage
        .normalize(json!({"choices": []}))
        .get("usage")
        .is_none());
}

#[test]
fn the_role_comes_once_per_choice() {
    let chunks = normalize_all(vec![
        json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}, {"index": 1, "delta": {"content": "Ot"}}]}),
        json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "lo"}}, {"index": 1, "delta": {"role": "assistant", "content": "her"}}]}),
    ]);
    assert_eq!(
        accumulated(&chunks),
        json!({"role": "assistant", "content": "Hello", "refusal": null})
    );
    assert_eq!(chunks[0]["choices"][1]["delta"]["role"], "assistant");
    assert!(chunks[1]["choices"][1]["delta"].get("role").is_none());
}

#[test]
fn repeated_call_ids_types_and_names_are_sent_once() {
    // llama-cpp-python: every fragment repeats id, type and name.
    let fragment = |arguments: &str| {
        json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": null, "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}]}}]})
    };
    let chunks = normalize_all(vec![fragment("{\"city\""), fragment(":\"Paris\"}")]);
    assert_eq!(
        chunks[1]["choices"][0]["delta"],
        json!({"content": null, "tool_calls": [{"index": 0, "function": {"arguments": ":\"Paris\"}"}}]})
    );
    assert_eq!(
        accumulated(&chunks)["tool_calls"],
        json!([{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}])
    );
}

#[test]
fn parallel_calls_that_reuse_index_zero_are_renumbered() {
    // Ollama: each call of a parallel batch, whole, at index 0 with its own id.
    let call = |id: &str, name: &str| json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": id, "type": "function", "function": {"name": name, "arguments": "{}"}}]}}]});
    let chunks = normalize_all(vec![
        call("call_a", "f"),
        call("call_b", "g"),
        call("call_c", "h"),
    ]);
    let calls = accumulated(&chunks)["tool_calls"].clone();
    let summary: Vec<(u64, &str, &str, &str)> = calls
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .map(|call| {
                    (
                        call["index"].as_u64().unwrap_or(99),
                        call["id"].as_str().unwrap_or_default(),
                        call["function"]["name"].as_str().unwrap_or_default(),
                        call["function"]["arguments"].as_str().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        summary,
        [
            (0, "call_a", "f", "{}"),
            (1, "call_b", "g", "{}"),
            (2, "call_c", "h", "{}")
        ]
    );
}

#[test]
fn a_first_fragment_without_id_or_name_is_completed_and_a_late_name_sent_once() {
    let chunks = normalize_all(vec![
        json!({"choices": [{"delta": {"tool_calls": [{"function": {"arguments": "{\"a\""}}]}}]}),
        json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"name": "late", "arguments": ":1}"}}]}}]}),
        json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"name": "late"}}]}, "finish_reason": "tool_calls"}]}),
    ]);
    let first = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(keys(first), ["index", "id", "type", "function"]);
    assert!(first["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("call_")));
    assert_eq!(
        chunks[2]["choices"][0]["delta"]["tool_calls"][0],
        json!({"index": 0})
    );
    let call = &accumulated(&chunks)["tool_calls"][0];
    assert_eq!(
        call["function"],
        json!({"name": "late", "arguments": "{\"a\":1}"})
    );
}

#[test]
fn error_chunks_and_non_objects_pass_unchanged() {
    let mut normalizer = ChunkNormalizer::new("requested", true);
    let error =
        json!({"error": {"message": "boom", "type": "server_error", "param": null, "code": null}});
    assert_eq!(normalizer.normalize(error.clone()), error);
    assert_eq!(normalizer.normalize(json!([1, 2])), json!([1, 2]));
    assert_eq!(normalize_completion(json!("text"), "m"), json!("text"));
}
