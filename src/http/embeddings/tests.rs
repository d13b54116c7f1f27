//! Tests of the Embeddings answer normalization and request checks.

use serde_json::{json, Value};

use super::*;

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .map(|object| object.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn a_partial_answer_gets_openai_keys_in_openai_order() {
    let answer = json!({"data": [{"embedding": [0.5, -1.0]}, {"embedding": [2.0], "index": 1}], "timings": {}});
    let list = normalize_list(answer, "nomic", EncodingFormat::Float).unwrap();
    assert_eq!(keys(&list), ["object", "data", "model", "usage", "timings"]);
    assert_eq!(
        list,
        json!({
            "object": "list",
            "data": [
                {"object": "embedding", "index": 0, "embedding": [0.5, -1.0]},
                {"object": "embedding", "index": 1, "embedding": [2.0]},
            ],
            "model": "nomic",
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
            "timings": {},
        })
    );
    assert_eq!(keys(&list["data"][0]), ["object", "index", "embedding"]);
}

#[test]
fn an_openai_answer_is_left_unchanged() {
    let recorded = json!({
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": "AACAPw=="}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 5, "total_tokens": 5},
    });
    let list = normalize_list(recorded.clone(), "other", EncodingFormat::Base64).unwrap();
    assert_eq!(list.to_string(), recorded.to_string());
}

#[test]
fn floats_become_base64_and_base64_becomes_floats_as_asked() {
    let floats = json!({"data": [{"embedding": [1.0, -0.25]}], "usage": {"prompt_tokens": 3}});
    let as_base64 = normalize_list(floats, "m", EncodingFormat::Base64).unwrap();
    let text = as_base64["data"][0]["embedding"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        crate::wire::embeddings::base64_to_floats(&text).unwrap(),
        [1.0, -0.25]
    );
    assert_eq!(
        as_base64["usage"],
        json!({"prompt_tokens": 3, "total_tokens": 3})
    );
    let back = normalize_list(
        json!({"data": [{"embedding": text}]}),
        "m",
        EncodingFormat::Float,
    )
    .unwrap();
    assert_eq!(back["data"][0]["embedding"], json!([1.0, -0.25]));
}

#[test]
fn answers_without_data_or_with_broken_embeddings_are_errors() {
    for answer in [
        json!([1]),
        json!({"embedding": [1.0]}),
        json!({"data": [{"index": 0}]}),
        json!({"data": [{"embedding": ["x"]}]}),
    ] {
        assert!(
            normalize_list(answer.clone(), "m", EncodingFormat::Base64).is_err(),
            "{answer}"
        );
    }
    assert!(normalize_list(
        json!({"data": [{"embedding": "!!"}]}),
        "m",
        EncodingFormat::Float
    )
    .is_err());
}

#[test]
fn inputs_of_each_accepted_shape_pass_and_others_name_input() {
    for input in [
        json!("a"),
        json!(["a", "b"]),
        json!([1, 2]),
        json!([[1], [2, 3]]),
    ] {
        assert!(check_input(Some(&input)).is_ok(), "{input}");
    }
    for input in [
        json!([]),
        json!(["a", 1]),
        json!([[]]),
        json!(3),
        json!({"text": "a"}),
        json!([-1]),
    ] {
        let error = check_input(Some(&input)).unwrap_err().body().error;
        assert_eq!(error.param.as_deref(), Some("input"), "{input}");
        assert_eq!(error.code.as_deref(), Some("invalid_value"));
    }
    let missing = check_input(None).unwrap_err().body().error;
    assert_eq!(missing.code.as_deref(), Some("missing_required_parameter"));
    assert_eq!(missing.param.as_deref(), Some("input"));
}

#[test]
fn encoding_format_is_float_by_default_and_checked() {
    assert_eq!(requested_format(&json!({})).unwrap(), EncodingFormat::Float);
    assert_eq!(
        requested_format(&json!({"encoding_format": "base64"})).unwrap(),
        EncodingFormat::Base64
    );
    let error = requested_format(&json!({"encoding_format": "hex"}))
        .unwrap_err()
        .body()
        .error;
    assert_eq!(error.param.as_deref(), Some("encoding_format"));
}
