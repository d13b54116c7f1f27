//! Unit tests of `responses/request.rs`.

use super::*;
use serde_json::json;

fn error_of(body: Value) -> (Option<String>, Option<String>) {
    let error = CreateResponseRequest::parse(body).unwrap_err().body().error;
    (error.param, error.code)
}

#[test]
fn unknown_parameters_and_hosted_tools_are_named() {
    assert_eq!(
        error_of(json!({"model": "m", "foo": 1})),
        (Some("foo".into()), Some("unknown_parameter".into()))
    );
    assert_eq!(
        error_of(
            json!({"model": "m", "tools": [{"type": "function", "name": "f"}, {"type": "web_search"}]})
        ),
        (
            Some("tools[1].type".into()),
            Some("unsupported_value".into())
        )
    );
}

#[test]
fn ranges_and_metadata_follow_openai() {
    assert_eq!(
        error_of(json!({"model": "m", "temperature": -1})),
        (
            Some("temperature".into()),
            Some("decimal_below_min_value".into())
        )
    );
    assert_eq!(
        error_of(json!({"model": "m", "max_output_tokens": 5})),
        (
            Some("max_output_tokens".into()),
            Some("integer_below_min_value".into())
        )
    );
    assert_eq!(
        error_of(json!({"model": "m", "metadata": {"modified": true}})),
        (
            Some("metadata.modified".into()),
            Some("invalid_type".into())
        )
    );
    let too_many: Map<String, Value> = (0..17)
        .map(|index| (format!("k{index}"), json!("v")))
        .collect();
    assert_eq!(
        error_of(json!({"model": "m", "metadata": too_many})).1,
        Some("object_above_max_properties".into())
    );
    assert_eq!(
        error_of(json!({"input": "hi"})),
        (
            Some("model".into()),
            Some("missing_required_parameter".into())
        )
    );
}

#[test]
fn a_valid_request_parses() {
    let request = CreateResponseRequest::parse(json!({
        "model": "m", "input": "hi", "tools": [{"type": "function", "name": "f", "parameters": {}}],
        "tool_choice": {"type": "function", "name": "f"}, "text": {"format": {"type": "json_object"}},
        "metadata": {"a": "b"}, "include": [], "max_output_tokens": 16
    }))
    .unwrap();
    assert_eq!(request.model.as_deref(), Some("m"));
}

#[test]
fn include_effort_and_a_named_tool_choice_are_checked() {
    assert_eq!(
        error_of(json!({"model": "m", "include": ["reasoning.encrypted_content", "bogus"]})),
        (Some("include".into()), Some("invalid_value".into()))
    );
    assert_eq!(
        error_of(json!({"model": "m", "reasoning": {"effort": "ultra"}})),
        (
            Some("reasoning.effort".into()),
            Some("invalid_value".into())
        )
    );
    assert_eq!(
        error_of(json!({"model": "m", "reasoning": {"effort": 3}})),
        (Some("reasoning.effort".into()), Some("invalid_type".into()))
    );
    assert_eq!(
        error_of(json!({"model": "m", "tool_choice": {"type": "function", "name": "nope"}})),
        (Some("tool_choice".into()), Some("invalid_value".into()))
    );
    assert_eq!(
        error_of(json!({
            "model": "m", "tools": [{"type": "function", "name": "f"}],
            "tool_choice": {"type": "function", "name": "g"}
        })),
        (Some("tool_choice".into()), Some("invalid_value".into()))
    );
    for effort in REASONING_EFFORTS {
        CreateResponseRequest::parse(json!({"model": "m", "reasoning": {"effort": effort}}))
            .unwrap();
    }
}

#[test]
fn an_unknown_effort_lists_openais_levels_as_openai_words_a_list() {
    let error =
        CreateResponseRequest::parse(json!({"model": "m", "reasoning": {"effort": "ultra"}}))
            .unwrap_err()
            .body()
            .error;
    assert_eq!(
        error.message,
        "Invalid value: 'ultra'. Supported values are: 'none', 'minimal', 'low', 'medium', 'high', 'xhigh', and 'max'."
    );
}
