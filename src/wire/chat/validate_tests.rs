//! Unit tests of `chat/validate.rs`.

use serde_json::{json, Value};

use super::validate_chat_request;

/// The `param` and `code` of the 400 for `body`.
fn error_of(body: Value) -> (Option<String>, Option<String>) {
    let error = validate_chat_request(&body).unwrap_err().body().error;
    (error.param, error.code)
}

fn named(param: &str, code: &str) -> (Option<String>, Option<String>) {
    (Some(param.to_owned()), Some(code.to_owned()))
}

fn with(extra: Value) -> Value {
    let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

#[test]
fn messages_are_checked_one_by_one() {
    assert_eq!(
        error_of(json!({"model": "m"})),
        named("messages", "missing_required_parameter")
    );
    assert_eq!(
        error_of(json!({"model": "m", "messages": "hi"})),
        named("messages", "invalid_type")
    );
    assert_eq!(
        error_of(json!({"model": "m", "messages": []})),
        named("messages", "empty_array")
    );
    let cases = [
        (json!(["hi"]), "messages[0]", "invalid_type"),
        (
            json!([{"content": "x"}]),
            "messages[0].role",
            "missing_required_parameter",
        ),
        (
            json!([{"role": "bogus", "content": "x"}]),
            "messages[0].role",
            "invalid_value",
        ),
        (
            json!([{"role": "user"}]),
            "messages[0].content",
            "missing_required_parameter",
        ),
        (
            json!([{"role": "user", "content": 5}]),
            "messages[0].content",
            "invalid_type",
        ),
        (
            json!([{"role": "user", "content": "a"}, {"role": "user", "content": [{"text": "x"}]}]),
            "messages[1].content[0].type",
            "missing_required_parameter",
        ),
        (
            json!([{"role": "tool", "content": "42"}]),
            "messages[0].tool_call_id",
            "missing_required_parameter",
        ),
    ];
    for (messages, param, code) in cases {
        assert_eq!(
            error_of(json!({"model": "m", "messages": messages})),
            named(param, code)
        );
    }
    // An assistant message may carry tool calls and no content.
    validate_chat_request(&json!({"model": "m", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    ]}))
    .unwrap();
}

#[test]
fn ranges_types_and_stream_options_follow_openai() {
    let cases = [
        (
            json!({"temperature": 3}),
            "temperature",
            "decimal_above_max_value",
        ),
        (json!({"temperature": "hot"}), "temperature", "invalid_type"),
        (json!({"top_p": -0.5}), "top_p", "decimal_below_min_value"),
        (
            json!({"presence_penalty": 5}),
            "presence_penalty",
            "decimal_above_max_value",
        ),
        (json!({"n": 0}), "n", "integer_below_min_value"),
        (json!({"n": 1.5}), "n", "invalid_type"),
        (json!({"n": "2"}), "n", "invalid_type"),
        (
            json!({"max_tokens": 0}),
            "max_tokens",
            "integer_below_min_value",
        ),
        (json!({"stream": "yes"}), "stream", "invalid_type"),
        (
            json!({"stream_options": {"include_usage": true}}),
            "stream_options",
            "invalid_value",
        ),
        (
            json!({"response_format": "json"}),
            "response_format",
            "invalid_type",
        ),
    ];
    for (extra, param, code) in cases {
        assert_eq!(error_of(with(extra)), named(param, code));
    }
    validate_chat_request(&with(json!({
        "temperature": 0, "top_p": 1, "n": 2, "max_tokens": 16, "stream": true,
        "stream_options": {"include_usage": true}, "response_format": {"type": "json_object"},
        "top_k": 40, "repeat_penalty": 1.1,
    })))
    .unwrap();
}

#[test]
fn tools_and_tool_choice_must_agree() {
    let tools =
        json!([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]);
    let cases = [
        (
            json!({"tools": [{"type": "function"}]}),
            "tools[0].function",
            "missing_required_parameter",
        ),
        (
            json!({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}),
            "tools[0].function.name",
            "invalid_value",
        ),
        (
            json!({"tool_choice": "bogus"}),
            "tool_choice",
            "invalid_value",
        ),
        (
            json!({"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}),
            "tool_choice",
            "invalid_value",
        ),
        (
            json!({"tools": tools, "tool_choice": {"type": "function", "function": {"name": "zzz"}}}),
            "tool_choice",
            "invalid_value",
        ),
    ];
    for (extra, param, code) in cases {
        assert_eq!(error_of(with(extra)), named(param, code));
    }
    validate_chat_request(&with(json!({
        "tools": tools, "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    })))
    .unwrap();
}

#[test]
fn local_servers_extensions_and_openais_other_forms_pass() {
    for extra in [
        json!({"response_format": {"type": "structural_tag", "structures": []}}),
        json!({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}),
        json!({"max_tokens": 100.0, "n": 1.0}),
        json!({"tools": [{"type": "function", "function": {"name": "f"}}],
               "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [{"type": "function", "function": {"name": "f"}}]}}}),
        json!({"tools": [{"type": "custom", "custom": {"name": "g"}}], "tool_choice": {"type": "custom", "custom": {"name": "g"}}}),
    ] {
        if let Err(error) = validate_chat_request(&with(extra.clone())) {
            panic!("{extra}: {:?}", error.body().error);
        }
    }
    validate_chat_request(&json!({"model": "m", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "what is in it?"}, {"type": "video_url", "video_url": {"url": "file://v.mp4"}}]},
        {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}, "content": null},
        {"role": "function", "name": "f", "content": null},
    ]}))
    .unwrap();
    assert_eq!(
        error_of(with(
            json!({"tools": [{"type": "custom", "custom": {"name": "g"}}],
                             "tool_choice": {"type": "custom", "custom": {"name": "h"}}})
        )),
        named("tool_choice", "invalid_value")
    );
}
