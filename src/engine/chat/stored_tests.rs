//! Tests of how a stored completion and its messages read back: OpenAI's
//! retrieve shape, with the request's parameters and their defaults.

use serde_json::json;

use super::*;

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .map(|object| object.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn a_completion_reads_back_in_openais_retrieve_shape() {
    let request = json!({"model": "m", "messages": [], "temperature": 0.2, "seed": 7,
        "tools": [{"type": "function", "function": {"name": "f"}}], "user": "u1"});
    let completion = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 9, "model": "m-2024",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            "refusal": null, "annotations": []}, "logprobs": null, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        "service_tier": "default", "system_fingerprint": "fp_1",
    });
    let view = stored_view(request.as_object().unwrap_or(&Map::new()), &completion);
    assert_eq!(
        keys(&view),
        [
            "object",
            "id",
            "model",
            "created",
            "request_id",
            "tool_choice",
            "usage",
            "seed",
            "top_p",
            "temperature",
            "presence_penalty",
            "frequency_penalty",
            "system_fingerprint",
            "input_user",
            "service_tier",
            "tools",
            "metadata",
            "choices",
            "response_format"
        ]
    );
    assert_eq!(view["model"], "m-2024");
    assert_eq!(
        view["usage"],
        json!({"total_tokens": 5, "completion_tokens": 2, "prompt_tokens": 3})
    );
    assert_eq!(
        (&view["seed"], &view["temperature"], &view["top_p"]),
        (&json!(7), &json!(0.2), &json!(1.0))
    );
    assert_eq!(view["input_user"], "u1");
    assert!(view["request_id"]
        .as_str()
        .is_some_and(|id| id.starts_with("req_")));
    assert_eq!(
        view["choices"][0],
        json!({"index": 0, "message": {"content": null, "role": "assistant",
            "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}, "id": "call_1"}],
            "function_call": null}, "finish_reason": "tool_calls", "logprobs": null})
    );
    let unseeded = stored_view(&Map::new(), &completion);
    assert!(unseeded["seed"].is_i64());
    assert!(unseeded["tools"].is_null() && unseeded["response_format"].is_null());
}

#[test]
fn request_messages_get_ids_and_content_parts() {
    let messages = [
        json!({"role": "system", "content": "Be brief."}),
        json!({"role": "user", "content": [
            {"type": "text", "text": "Whose logo is this?: "},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
        ]}),
        json!({"role": "tool", "tool_call_id": "call_1", "content": "42"}),
    ];
    let items = message_items("chatcmpl-1", &messages);
    assert_eq!(
        items[0],
        json!({"id": "chatcmpl-1-0", "role": "system", "content": "Be brief.", "content_parts": null, "name": null})
    );
    assert_eq!(items[1]["content"], "Whose logo is this?:  ");
    assert_eq!(
        items[1]["content_parts"][1],
        json!({"type": "image_url", "text": null, "image_url": {"url": "data:image/png;base64,AA"},
            "input_audio": null, "file": null})
    );
    assert_eq!(items[2]["id"], "chatcmpl-1-2");
    assert_eq!(items[2]["tool_call_id"], "call_1");
}

#[test]
fn store_and_metadata_are_checked_even_without_storing() {
    assert_eq!(validate_store_fields(&json!({})).ok(), Some(false));
    assert_eq!(
        validate_store_fields(&json!({"store": true})).ok(),
        Some(true)
    );
    assert!(validate_store_fields(&json!({"store": "yes"})).is_err());
    assert!(validate_store_fields(&json!({"metadata": {"k": 1}})).is_err());
    assert!(validate_store_fields(&json!({"metadata": "k"})).is_err());
}

#[test]
fn a_completion_counted_by_nobody_is_stored_with_an_estimate_not_zeros() {
    let request = json!({"model": "m", "messages": [{"role": "user", "content": "Say hello to everyone here."}]});
    let completion = json!({
        "id": "chatcmpl-1", "created": 9, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello, everyone!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    });
    let view = stored_view(request.as_object().unwrap(), &completion);
    let prompt = request["messages"].to_string().chars().count().div_ceil(4) as u64;
    assert_eq!(
        view["usage"],
        json!({"total_tokens": prompt + 4, "completion_tokens": 4, "prompt_tokens": prompt})
    );
}
