//! The mock backend's `POST /v1/embeddings`: deterministic vectors, always as
//! float arrays whatever `encoding_format` says (as many local servers do).
//!
//! Each input (a string, or one array of token ids) gets `dimensions` (default
//! 8, at most 4,096) values in [-1, 1) drawn from a generator seeded with a hash
//! of the input, so the same input always gets the same vector. The values are
//! multiples of 2⁻²³, exact in float32, so a base64 conversion loses nothing.
//! A scripted `error_status` is answered as that status (with the scripted
//! `error_body` when there is one); a `raw_body` verbatim.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::chat::{json_answer, raw_answer};
use crate::mock_backend::state::{error_response, MockState};
use crate::wire::chat_events::estimate_tokens;

const DEFAULT_DIMENSIONS: u64 = 8;
const MAX_DIMENSIONS: u64 = 4_096;

/// Records the body, takes the next script and answers the vectors.
pub(super) async fn create_embeddings(State(state): State<MockState>, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(error) => {
            let message = format!("We could not parse the JSON body of your request: {error}");
            return error_response(StatusCode::BAD_REQUEST, &message);
        }
    };
    state.record_request(&body);
    let script = state.scripts.next();
    if let Some((status, error)) = script.error_answer() {
        let model = body.get("model").and_then(Value::as_str).unwrap_or("mock");
        let (status, error) = state
            .pose
            .dialect
            .word("/v1/embeddings", status, &error, model);
        return json_answer(status, error);
    }
    if let Some(answer) = raw_answer(&script) {
        return answer;
    }
    let Some(inputs) = inputs(body.get("input")) else {
        return error_response(StatusCode::BAD_REQUEST, "'input' is missing or invalid.");
    };
    let dimensions = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_DIMENSIONS)
        .clamp(1, MAX_DIMENSIONS);
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, (text, _))| {
            json!({"object": "embedding", "index": index, "embedding": vector(text, dimensions)})
        })
        .collect();
    let tokens: u64 = inputs.iter().map(|(_, tokens)| tokens).sum();
    Json(json!({
        "object": "list",
        "data": data,
        "model": body.get("model").cloned().unwrap_or(Value::Null),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response()
}

/// Each input as (the text hashed, its token count): strings count about four
/// characters a token, token arrays their length.
fn inputs(input: Option<&Value>) -> Option<Vec<(String, u64)>> {
    let token_array = |value: &Value| {
        let tokens = value.as_array()?;
        tokens
            .iter()
            .all(Value::is_u64)
            .then(|| (value.to_string(), tokens.len() as u64))
    };
    let input = input?;
    match input {
        Value::String(text) => Some(vec![(text.clone(), estimate_tokens(text))]),
        Value::Array(items) if items.iter().all(Value::is_u64) => {
            token_array(input).map(|one| vec![one])
        }
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Some((text.clone(), estimate_tokens(text))),
                other => token_array(other),
            })
            .collect(),
        _ => None,
    }
}

/// `dimensions` values in [-1, 1) from a splitmix64 generator seeded with the
/// FNV-1a hash of `text`.
fn vector(text: &str, dimensions: u64) -> Vec<f64> {
    let mut state = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    (0..dimensions)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut mixed = state;
            mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            mixed ^= mixed >> 31;
            // 24 random bits: a multiple of 2^-23 in [-1, 1).
            (mixed >> 40) as f64 / f64::from(1u32 << 23) - 1.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_deterministic_exact_in_float32_and_in_range() {
        let first = vector("hello", 16);
        assert_eq!(first, vector("hello", 16));
        assert_ne!(first, vector("hellp", 16));
        assert_eq!(first.len(), 16);
        for value in first {
            assert!((-1.0..1.0).contains(&value));
            assert_eq!(f64::from(value as f32), value);
        }
    }

    #[test]
    fn every_input_shape_is_read() {
        let count = |input: Value| inputs(Some(&input)).map(|inputs| inputs.len());
        assert_eq!(count(json!("a")), Some(1));
        assert_eq!(count(json!(["a", "b"])), Some(2));
        assert_eq!(count(json!([1, 2, 3])), Some(1));
        assert_eq!(count(json!([[1], [2, 3]])), Some(2));
        assert_eq!(count(json!({"a": 1})), None);
        assert_eq!(inputs(Some(&json!([1, 2, 3]))).unwrap_or_default()[0].1, 3);
    }
}
