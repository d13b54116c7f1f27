//! `POST /v1/responses/input_tokens`: the backend's tokenizer when it has one,
//! an estimate otherwise, and which of the two in a header.

use serde_json::{json, Value};

use portico::backends::profile::ServerKind;

use crate::helpers::{spawn_app, spawn_app_posing_as};

#[tokio::test]
async fn input_tokens_are_counted_by_the_backends_tokenizer_including_the_chain() {
    // llama.cpp's server counts tokens (`POST /tokenize`); the mock poses as one.
    let app = spawn_app_posing_as(ServerKind::LlamaServer).await;
    let answer = app
        .client
        .post(app.url("/v1/responses/input_tokens"))
        .json(&json!({"model": "m", "input": "one two three", "instructions": "be brief"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(answer.headers()["x-portico-token-count"], "tokenizer");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["object"], "response.input_tokens");
    // "system\nbe brief\nuser\none two three\n": 7 words for the mock's tokenizer.
    assert_eq!(body["input_tokens"], 7);
    let (_, first) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "alpha beta"}),
        )
        .await;
    let (_, chained) = app
        .post(
            "/v1/responses/input_tokens",
            json!({"model": "m", "input": "gamma", "previous_response_id": first["id"]}),
        )
        .await;
    // user alpha beta, assistant alpha beta (echo), user gamma.
    assert_eq!(chained["input_tokens"], 8);
}

#[tokio::test]
async fn input_tokens_validates_like_create() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/v1/responses/input_tokens",
            json!({"model": "m", "input": "x", "stream": true}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "unknown_parameter");
    let (status, body) = app
        .post(
            "/v1/responses/input_tokens",
            json!({"model": "m", "input": "x", "previous_response_id": "resp_nope"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "previous_response_id");
}

#[tokio::test]
async fn without_a_tokenizer_the_count_is_an_estimate() {
    let (address, _directory) = crate::helpers::spawn_builtin_app().await;
    let answer = reqwest::Client::new()
        .post(format!("http://{address}/v1/responses/input_tokens"))
        .json(&json!({"model": "echo", "input": "a fairly short sentence"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-portico-token-count"], "estimate");
    let body: Value = answer.json().await.unwrap();
    assert!(body["input_tokens"].as_u64().unwrap() > 0);
}
