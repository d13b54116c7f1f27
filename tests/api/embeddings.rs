//! Embeddings forwarded to the backend: OpenAI's shape, float and base64 as the
//! client asks whatever the backend answers, errors in the envelope.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

/// A Portico with only its in-process backend (the `echo` model), and the
/// temporary folder of its database (keep it alive as long as the server).
pub async fn spawn_in_process_app() -> (String, tempfile::TempDir) {
    let directory = tempfile::tempdir().unwrap();
    let config = portico::config::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: crate::helpers::store_location(directory.path()),
        ..portico::config::Config::default()
    };
    let app = portico::http::app::App::build(config).await.unwrap();
    let address = app.address().unwrap();
    tokio::spawn(app.run());
    (format!("http://{address}"), directory)
}

/// openai-python's decoding: base64 → little-endian float32.
fn decode_floats(text: &str) -> Vec<f32> {
    let bytes = base64_decode(text);
    assert_eq!(bytes.len() % 4, 0);
    bytes
        .chunks_exact(4)
        .map(|quad| f32::from_le_bytes([quad[0], quad[1], quad[2], quad[3]]))
        .collect()
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::new();
    for letter in text.bytes().filter(|letter| *letter != b'=') {
        let value = ALPHABET.iter().position(|l| *l == letter).unwrap() as u32;
        bits = bits << 6 | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
        }
    }
    bytes
}

fn vectors(answer: &Value) -> Vec<Vec<f32>> {
    answer["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            item["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|number| number.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn float_embeddings_come_back_in_openai_shape_and_the_body_is_forwarded_unchanged() {
    let app = spawn_app().await;
    let body =
        json!({"model": "nomic-embed", "input": ["first", "second"], "dimensions": 4, "user": "u"});
    let (status, answer) = app.post("/v1/embeddings", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let keys: Vec<&String> = answer.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["object", "data", "model", "usage"]);
    assert_eq!(answer["object"], "list");
    assert_eq!(answer["model"], "nomic-embed");
    for (index, item) in answer["data"].as_array().unwrap().iter().enumerate() {
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["object", "index", "embedding"]);
        assert_eq!(item["object"], "embedding");
        assert_eq!(item["index"], index);
        assert_eq!(item["embedding"].as_array().unwrap().len(), 4);
    }
    let usage = &answer["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(usage["total_tokens"], usage["prompt_tokens"]);
    assert_eq!(app.backend_requests().await, [body]);
}

#[tokio::test]
async fn token_ids_written_with_a_decimal_point_reach_the_backend_as_integers() {
    let app = spawn_app().await;
    let (status, answer) = app
        .post(
            "/v1/embeddings",
            json!({"model": "nomic-embed", "input": [[1.0, 2], [3.0]]}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let sent = app.backend_requests().await;
    assert_eq!(sent[0]["input"], json!([[1, 2], [3]]));
    assert!(sent[0]["input"][0][0].is_u64());
    let (status, refused) = app
        .post(
            "/v1/embeddings",
            json!({"model": "nomic-embed", "input": [1.5]}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["param"], "input");
}

#[tokio::test]
async fn base64_is_made_from_the_backends_floats_and_decodes_to_the_float_answer() {
    let app = spawn_app().await;
    let ask = |format: Option<&str>| {
        let mut body = json!({"model": "m", "input": ["hello", "world"]});
        if let Some(format) = format {
            body["encoding_format"] = json!(format);
        }
        body
    };
    let (_, floats) = app.post("/v1/embeddings", ask(Some("float"))).await;
    let (_, default) = app.post("/v1/embeddings", ask(None)).await;
    let (status, base64) = app.post("/v1/embeddings", ask(Some("base64"))).await;
    assert_eq!(status, 200, "{base64}");
    assert_eq!(vectors(&floats), vectors(&default));
    let decoded: Vec<Vec<f32>> = base64["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| decode_floats(item["embedding"].as_str().unwrap()))
        .collect();
    assert_eq!(decoded, vectors(&floats));
    assert_eq!(decoded[0].len(), 8, "the mock's default dimensions");
    assert_ne!(decoded[0], decoded[1]);
}

#[tokio::test]
async fn a_backends_base64_is_decoded_for_a_float_client_and_a_partial_answer_completed() {
    let app = spawn_app().await;
    // 1.0 and -2.0 as little-endian float32; no `object`, `index`, `model` or `usage`.
    app.script(json!({"raw_body": {"data": [{"embedding": "AACAPwAAAMA="}]}}))
        .await;
    let (status, answer) = app
        .post("/v1/embeddings", json!({"model": "m", "input": "hi"}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [1.0, -2.0]}],
            "model": "m",
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
        })
    );
}

#[tokio::test]
async fn missing_or_invalid_parameters_are_named() {
    let app = spawn_app().await;
    for (body, param, code) in [
        (
            json!({"input": "hi"}),
            "model",
            "missing_required_parameter",
        ),
        (json!({"model": 3, "input": "hi"}), "model", "invalid_type"),
        (json!({"model": "m"}), "input", "missing_required_parameter"),
        (
            json!({"model": "m", "input": [1, "a"]}),
            "input",
            "invalid_value",
        ),
        (
            json!({"model": "m", "input": "a", "encoding_format": "hex"}),
            "encoding_format",
            "invalid_value",
        ),
    ] {
        let (status, answer) = app.post("/v1/embeddings", body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["type"], "invalid_request_error");
        assert_eq!(answer["error"]["param"], param, "{body}");
        assert_eq!(answer["error"]["code"], code, "{body}");
    }
    assert!(app.backend_requests().await.is_empty());
}

#[tokio::test]
async fn backend_errors_come_back_in_the_envelope() {
    let app = spawn_app().await;
    app.script(json!([
        {"error_status": 400, "error_message": "input too long"},
        {"error_status": 503},
    ]))
    .await;
    let body = json!({"model": "m", "input": "hi"});
    let (status, answer) = app.post("/v1/embeddings", body.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["message"], "input too long");
    let (status, answer) = app.post("/v1/embeddings", body).await;
    assert_eq!(status, 503);
    assert_eq!(answer["error"]["type"], "server_error");
}

#[tokio::test]
async fn a_backends_unknown_model_is_answered_in_openais_words() {
    let app = spawn_app().await;
    // vLLM's wording (NotFoundError, an integer code).
    let envelope = json!({"error": {"message": "The model `x` does not exist.", "type": "NotFoundError",
        "param": "model", "code": 404}});
    app.script(json!({"error_status": 404, "error_body": envelope}))
        .await;
    let (status, answer) = app
        .post("/v1/embeddings", json!({"model": "x", "input": "hi"}))
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        answer,
        json!({"error": {"message": "The model `x` does not exist or you do not have access to it.",
            "type": "invalid_request_error", "param": null, "code": "model_not_found"}})
    );
}

#[tokio::test]
async fn an_unknown_model_is_openais_404_and_an_in_process_model_cannot_embed() {
    let (base, _directory) = spawn_in_process_app().await;
    let client = reqwest::Client::new();
    let post = |body: Value| {
        client
            .post(format!("{base}/v1/embeddings"))
            .json(&body)
            .send()
    };
    let answer = post(json!({"model": "nope", "input": "hi"})).await.unwrap();
    assert_eq!(answer.status(), 404);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "model_not_found");
    assert_eq!(
        answer["error"]["message"],
        "The model `nope` does not exist or you do not have access to it."
    );
    let answer = post(json!({"model": "echo", "input": "hi"})).await.unwrap();
    assert_eq!(answer.status(), 400);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["error"]["param"], "model");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cannot create embeddings"));
}
