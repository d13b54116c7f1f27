//! Unit tests of the comparison rules: each rule can fail.

use serde_json::{json, Value};

use super::*;
use crate::conformance::cassette::{RecordedEvent, RecordedResponse};

fn recorded_json(status: u16, body: Value) -> RecordedResponse {
    RecordedResponse {
        status: Some(status),
        headers: Default::default(),
        body,
        events: None,
    }
}

fn actual_json(status: u16, body: Value) -> ActualResponse {
    ActualResponse {
        status,
        content_type: "application/json".into(),
        body,
        events: None,
        capped: false,
    }
}

fn differences(
    recorded: RecordedResponse,
    actual: ActualResponse,
    kind: StreamKind,
) -> Vec<String> {
    let mut comparison = Comparison {
        scripted: true,
        ..Comparison::default()
    };
    compare_exchange(&recorded, &actual, kind, &IdMap::default(), &mut comparison);
    comparison.differences
}

#[test]
fn missing_keys_and_wrong_types_differ_but_extra_keys_do_not() {
    let recorded = recorded_json(
        200,
        json!({"object": "response", "created_at": 1, "usage": {"input_tokens": 3}}),
    );
    let same = actual_json(
        200,
        json!({"object": "response", "created_at": 99, "usage": {"input_tokens": 7}, "extra": true}),
    );
    assert!(differences(recorded.clone(), same, StreamKind::Responses).is_empty());
    let missing = actual_json(
        200,
        json!({"object": "response", "created_at": 1, "usage": {}}),
    );
    assert_eq!(
        differences(recorded.clone(), missing, StreamKind::Responses),
        ["$.usage.input_tokens: missing"]
    );
    let wrong_type = actual_json(
        200,
        json!({"object": "response", "created_at": "1", "usage": {"input_tokens": 3}}),
    );
    assert_eq!(
        differences(recorded, wrong_type, StreamKind::Responses).len(),
        1
    );
}

#[test]
fn values_ids_and_statuses_follow_the_table() {
    let recorded = recorded_json(
        200,
        json!({"id": "resp_1", "status": "completed", "output": [{"type": "message"}]}),
    );
    let wrong_status = actual_json(
        200,
        json!({"id": "resp_2", "status": "failed", "output": [{"type": "message"}]}),
    );
    assert_eq!(
        differences(recorded.clone(), wrong_status, StreamKind::Responses).len(),
        1
    );
    let wrong_prefix = actual_json(
        200,
        json!({"id": "r_2", "status": "completed", "output": [{"type": "message"}]}),
    );
    assert_eq!(
        differences(recorded.clone(), wrong_prefix, StreamKind::Responses).len(),
        1
    );
    let extra_item = actual_json(
        200,
        json!({"id": "resp_2", "status": "completed", "output": [{"type": "message"}, {"type": "message"}]}),
    );
    assert_eq!(
        differences(recorded.clone(), extra_item, StreamKind::Responses).len(),
        1
    );
    assert_eq!(
        differences(recorded, actual_json(500, json!({})), StreamKind::Responses).len(),
        1
    );
}

#[test]
fn error_envelopes_need_four_keys_and_equal_code_and_param() {
    let recorded = recorded_json(
        400,
        json!({"error": {"message": "x", "type": "invalid_request_error", "param": "model", "code": "model_not_found"}}),
    );
    let good = actual_json(
        400,
        json!({"error": {"message": "other words", "type": "invalid_request_error", "param": "model", "code": "model_not_found"}}),
    );
    assert!(differences(recorded.clone(), good, StreamKind::Responses).is_empty());
    let no_param = actual_json(
        400,
        json!({"error": {"message": "x", "type": "invalid_request_error", "code": "model_not_found"}}),
    );
    assert!(differences(recorded, no_param, StreamKind::Responses).len() >= 2);
}

fn event(name: Option<&str>, data: Value) -> RecordedEvent {
    RecordedEvent {
        event: name.map(str::to_owned),
        data,
    }
}

#[test]
fn responses_streams_need_dense_sequence_numbers_and_the_same_collapsed_order() {
    let recorded = RecordedResponse {
        status: Some(200),
        headers: Default::default(),
        body: Value::Null,
        events: Some(vec![
            event(
                Some("response.created"),
                json!({"type": "response.created", "sequence_number": 0}),
            ),
            event(
                Some("response.output_text.delta"),
                json!({"type": "response.output_text.delta", "delta": "a", "sequence_number": 1}),
            ),
            event(
                Some("response.output_text.delta"),
                json!({"type": "response.output_text.delta", "delta": "b", "sequence_number": 2}),
            ),
            event(
                Some("response.completed"),
                json!({"type": "response.completed", "sequence_number": 3}),
            ),
        ]),
    };
    let good = vec![
        event(
            Some("response.created"),
            json!({"type": "response.created", "sequence_number": 0}),
        ),
        event(
            Some("response.output_text.delta"),
            json!({"type": "response.output_text.delta", "delta": "ab", "sequence_number": 1}),
        ),
        event(
            Some("response.completed"),
            json!({"type": "response.completed", "sequence_number": 2}),
        ),
    ];
    let actual = |events| ActualResponse {
        status: 200,
        content_type: "text/event-stream".into(),
        body: Value::Null,
        events: Some(events),
        capped: false,
    };
    assert!(differences(
        recorded.clone(),
        actual(good.clone()),
        StreamKind::Responses
    )
    .is_empty());
    let mut gap = good.clone();
    gap[2].data["sequence_number"] = json!(5);
    assert_eq!(
        differences(recorded.clone(), actual(gap), StreamKind::Responses).len(),
        1
    );
    let mut done = good.clone();
    done.push(event(None, json!("[DONE]")));
    assert!(!differences(recorded.clone(), actual(done), StreamKind::Responses).is_empty());
    let reordered = vec![good[0].clone(), good[2].clone()];
    assert!(!differences(recorded, actual(reordered), StreamKind::Responses).is_empty());
}

#[test]
fn policy_fields_accept_null_or_a_value() {
    let recorded = recorded_json(
        200,
        json!({"prompt_cache_retention": "24h", "reasoning": {"effort": "medium"}, "system_fingerprint": "fp_1"}),
    );
    let actual = actual_json(
        200,
        json!({"prompt_cache_retention": null, "reasoning": {"effort": null}, "system_fingerprint": null}),
    );
    assert!(differences(recorded.clone(), actual, StreamKind::Responses).is_empty());
    let missing = actual_json(
        200,
        json!({"reasoning": {"effort": null}, "system_fingerprint": "fp_local"}),
    );
    assert_eq!(
        differences(recorded, missing, StreamKind::Responses).len(),
        1
    );
}

/// An unscripted comparison of two Responses objects, with or without a
/// grader's token cap.
fn unscripted(recorded: &Value, actual: &Value, capped: bool) -> Comparison {
    let mut out = Comparison {
        scripted: false,
        capped,
        ..Comparison::default()
    };
    compare_value("$", "", recorded, actual, &IdMap::default(), &mut out);
    out
}

#[test]
fn what_the_graders_cap_alone_changes_is_not_graded() {
    let recorded = json!({"object": "response", "status": "completed", "completed_at": 5, "max_output_tokens": null, "incomplete_details": null});
    let actual = json!({"object": "response", "status": "incomplete", "completed_at": null, "max_output_tokens": 16, "incomplete_details": {"reason": "max_output_tokens"}});
    let capped = unscripted(&recorded, &actual, true);
    assert!(capped.differences.is_empty(), "{:?}", capped.differences);
    assert!(
        capped.model_choices.is_empty(),
        "the grader's cap is nobody's choice"
    );
    // Without a cap of the grader's, writing until the limit is the model's choice…
    let echo_free = json!({"object": "response", "status": "incomplete", "completed_at": null, "max_output_tokens": null, "incomplete_details": {"reason": "max_output_tokens"}});
    let uncapped = unscripted(&recorded, &echo_free, false);
    assert!(
        uncapped.differences.is_empty(),
        "{:?}",
        uncapped.differences
    );
    assert_eq!(uncapped.model_choices.len(), 1);
    // …but the echo of a limit nobody asked for is the server's.
    assert_eq!(unscripted(&recorded, &actual, false).differences.len(), 1);
}

#[test]
fn another_choice_of_the_model_is_reported_apart_from_a_broken_contract() {
    let recorded = json!({"output": [{"type": "function_call", "name": "f", "arguments": "{}", "call_id": "call_1"}]});
    let actual = json!({"output": [{"type": "message", "role": "assistant", "content": []}]});
    let out = unscripted(&recorded, &actual, false);
    assert!(out.differences.is_empty(), "{:?}", out.differences);
    assert_eq!(out.model_choices.len(), 1);
    let chat_recorded = json!({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1"}]}}]});
    let chat_actual = json!({"choices": [{"message": {"role": "assistant", "content": "hi"}}]});
    let out = unscripted(&chat_recorded, &chat_actual, false);
    assert!(out.differences.is_empty(), "{:?}", out.differences);
    assert_eq!(out.model_choices.len(), 1);
    // A broken shape is still the server's: an item without its keys.
    let broken = json!({"output": [{"type": "function_call", "name": "f"}]});
    assert!(!unscripted(&recorded, &broken, false).differences.is_empty());
    // Scripted, the model's choice is Portico's to get right.
    let mut scripted = Comparison {
        scripted: true,
        ..Comparison::default()
    };
    compare_value(
        "$",
        "",
        &recorded,
        &actual,
        &IdMap::default(),
        &mut scripted,
    );
    assert!(!scripted.differences.is_empty());
}
