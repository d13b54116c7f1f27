//! llama.cpp's own `llama-server`, replayed: its real answers, captured by
//! `scripts/real-backend/capture-llama-server.sh` into
//! `tests/fixtures/llama-server/`, are served back over loopback HTTP (each
//! chat request matched by the `[fixture:<name>]` tag in its text) and
//! Portico runs in front of them, as of a live server: it recognizes the
//! kind, adapts what it sends, and answers in OpenAI's shape and words.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use portico::backends::fault::Fault;
use portico::config::{BackendConfig, BackendKind, Config};
use serde_json::{json, Value};

fn fixtures() -> HashMap<String, Value> {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llama-server");
    std::fs::read_dir(&folder)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .map(|path| {
            let fixture: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            (fixture["name"].as_str().unwrap().to_owned(), fixture)
        })
        .collect()
}

#[derive(Clone)]
struct Replay {
    fixtures: Arc<HashMap<String, Value>>,
    received: Arc<Mutex<Vec<Value>>>,
}

/// The fixture a request is answered with: by route, or by the tag in its text.
fn fixture_for(method: &Method, path: &str, body: &str) -> Option<String> {
    match (method.as_str(), path) {
        ("GET", "/v1/models" | "/models") => Some("models".into()),
        ("GET", "/health") => Some("health".into()),
        ("GET", "/props") => Some("props".into()),
        ("POST", "/v1/embeddings") => Some("embeddings".into()),
        ("POST", "/v1/chat/completions") => {
            let start = body.find("[fixture:")? + "[fixture:".len();
            Some(body[start..].split(']').next()?.to_owned())
        }
        _ => Some("unknown_route".into()),
    }
}

async fn replay(State(replay): State<Replay>, method: Method, uri: Uri, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        replay.received.lock().unwrap().push(value);
    }
    let Some(fixture) = fixture_for(&method, uri.path(), &text)
        .and_then(|name| replay.fixtures.get(&name).cloned())
    else {
        return (StatusCode::IM_A_TEAPOT, format!("no fixture for {text}")).into_response();
    };
    let answer = &fixture["response"];
    let mut response = answer["body"].as_str().unwrap().to_owned().into_response();
    *response.status_mut() =
        StatusCode::from_u16(answer["status"].as_u64().unwrap() as u16).unwrap();
    for name in ["content-type", "server"] {
        if let Some(value) = answer["headers"][name].as_str() {
            response
                .headers_mut()
                .insert(name, HeaderValue::from_str(value).unwrap());
        }
    }
    response
}

struct Gateway {
    base: String,
    client: reqwest::Client,
    received: Arc<Mutex<Vec<Value>>>,
    _directory: tempfile::TempDir,
}

impl Gateway {
    async fn start() -> Self {
        let state = Replay {
            fixtures: Arc::new(fixtures()),
            received: Arc::default(),
        };
        let received = state.received.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let replay_address: SocketAddr = listener.local_addr().unwrap();
        let router = axum::Router::new().fallback(replay).with_state(state);
        tokio::spawn(async move { axum::serve(listener, router).await });
        let directory = tempfile::tempdir().unwrap();
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database: directory.path().join("portico.db"),
            backends: vec![BackendConfig {
                name: "llama-server".into(),
                kind: BackendKind::Openai,
                base_url: format!("http://{replay_address}/v1"),
                api_key_env: None,
                models: vec!["*".into()],
                profile: None,
            }],
            ..Config::default()
        };
        let app = portico::http::app::App::build(config).await.unwrap();
        let base = format!("http://{}", app.address().unwrap());
        tokio::spawn(app.run());
        Self {
            base,
            client: reqwest::Client::new(),
            received,
            _directory: directory,
        }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, String) {
        let answer = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        (answer.status().as_u16(), answer.text().await.unwrap())
    }

    async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let (status, text) = self.post(path, body).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The last chat request that reached the server.
    fn last_sent(&self) -> Value {
        self.received
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|body| body.get("messages").is_some())
            .cloned()
            .unwrap()
    }
}

fn chat(tag: &str) -> Value {
    json!({"model": "gemma3-270m", "temperature": 0, "seed": 42, "max_tokens": 12,
        "messages": [{"role": "user", "content": format!("Say hello. [fixture:{tag}]")}]})
}

fn chunks(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|frame| frame.strip_prefix("data: "))
        .filter(|data| *data != "[DONE]")
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}

#[tokio::test]
async fn a_plain_answer_comes_back_in_openais_shape() {
    let gateway = Gateway::start().await;
    let (status, completion) = gateway
        .post_json("/v1/chat/completions", chat("text"))
        .await;
    assert_eq!(status, 200, "{completion}");
    let message = &completion["choices"][0]["message"];
    assert_eq!(message["refusal"], Value::Null);
    assert_eq!(message["annotations"], json!([]));
    assert_eq!(completion["choices"][0]["logprobs"], Value::Null);
    assert_eq!(completion["usage"]["completion_tokens"], 12);
    assert_eq!(
        completion["usage"]["completion_tokens_details"]["reasoning_tokens"],
        0
    );
    assert_eq!(completion["service_tier"], "default");
}

#[tokio::test]
async fn a_stream_opens_with_empty_content_and_keeps_the_servers_usage() {
    let gateway = Gateway::start().await;
    let mut request = chat("text_stream_usage");
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let (status, body) = gateway.post("/v1/chat/completions", request).await;
    assert_eq!(status, 200);
    assert!(body.ends_with("data: [DONE]\n\n"));
    let chunks = chunks(&body);
    // llama-server opens with `content: null`; OpenAI with "".
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "", "refusal": null})
    );
    let usages: Vec<&Value> = chunks
        .iter()
        .filter(|chunk| chunk["usage"].is_object())
        .collect();
    assert_eq!(
        usages.len(),
        1,
        "the server's own usage chunk, not a second one"
    );
    assert_eq!(usages[0]["usage"]["prompt_tokens"], 21);
    assert_eq!(usages[0]["usage"]["completion_tokens"], 12);
}

#[tokio::test]
async fn a_stream_without_the_servers_usage_gets_one_counted_from_its_chunks() {
    let gateway = Gateway::start().await;
    let mut request = chat("text_stream_plain");
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let (status, body) = gateway.post("/v1/chat/completions", request).await;
    assert_eq!(status, 200);
    let chunks = chunks(&body);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    // The server counted 12 tokens for the same text (the `text` fixture).
    assert_eq!(last["usage"]["completion_tokens"], 12);
}

#[tokio::test]
async fn structured_output_parses_against_its_schema() {
    let gateway = Gateway::start().await;
    let schema = json!({"type": "object", "properties": {
        "answer": {"type": "string", "enum": ["yes", "no"]},
        "confidence": {"type": "integer", "minimum": 0, "maximum": 9}},
        "required": ["answer", "confidence"], "additionalProperties": false});
    let mut request = chat("json_schema");
    request["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "answer", "strict": true, "schema": schema}});
    request["max_tokens"] = json!(40);
    let (status, completion) = gateway.post_json("/v1/chat/completions", request).await;
    assert_eq!(status, 200, "{completion}");
    let parsed: Value = serde_json::from_str(
        completion["choices"][0]["message"]["content"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(["yes", "no"].contains(&parsed["answer"].as_str().unwrap()));
    assert!(parsed["confidence"]
        .as_u64()
        .is_some_and(|confidence| confidence <= 9));
    assert_eq!(parsed.as_object().unwrap().len(), 2);
    // llama-server reads OpenAI's form: sent as it came.
    assert_eq!(
        gateway.last_sent()["response_format"]["type"],
        "json_schema"
    );
}

#[tokio::test]
async fn llama_server_is_recognized_and_gets_the_forms_it_reads() {
    let gateway = Gateway::start().await;
    let weather = json!({"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}});
    let time = json!({"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}});
    let mut request = chat("tool_named");
    request["tools"] = json!([weather, time]);
    request["tool_choice"] = json!({"type": "function", "function": {"name": "get_weather"}});
    let (status, _) = gateway.post_json("/v1/chat/completions", request).await;
    assert_eq!(status, 200);
    let sent = gateway.last_sent();
    assert_eq!(
        sent["tool_choice"], "required",
        "llama-server reads a named choice as auto"
    );
    assert_eq!(sent["tools"], json!([weather]));
    // It reads `max_completion_tokens` and maps `developer` itself: both sent as they came.
    let mut limited = chat("max_completion_tokens");
    limited.as_object_mut().unwrap().remove("max_tokens");
    limited["max_completion_tokens"] = json!(5);
    let (status, completion) = gateway.post_json("/v1/chat/completions", limited).await;
    assert_eq!(status, 200);
    assert_eq!(completion["usage"]["completion_tokens"], 5);
    assert_eq!(gateway.last_sent()["max_completion_tokens"], 5);
    let mut developer = chat("developer_role");
    developer["messages"] = json!([{"role": "developer", "content": "Answer in one word."},
        {"role": "user", "content": "What is the sky like? [fixture:developer_role]"}]);
    let (status, _) = gateway.post_json("/v1/chat/completions", developer).await;
    assert_eq!(status, 200);
    assert_eq!(gateway.last_sent()["messages"][0]["role"], "developer");
    let mut two = chat("n_two");
    two["n"] = json!(2);
    let (status, completion) = gateway.post_json("/v1/chat/completions", two).await;
    assert_eq!(status, 200);
    assert_eq!(completion["choices"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_prompt_over_the_context_is_openais_context_length_exceeded() {
    let gateway = Gateway::start().await;
    let (status, error) = gateway
        .post_json("/v1/chat/completions", chat("context_too_long"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error,
        json!({"error": {"message": "This model's maximum context length is 4096 tokens. However, your messages resulted in 6018 tokens. Please reduce the length of the messages.",
            "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}})
    );
    let mut stream = chat("context_too_long_stream");
    stream["stream"] = json!(true);
    let (status, error) = gateway.post_json("/v1/chat/completions", stream).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "context_length_exceeded");
    let (status, error) = gateway
        .post_json(
            "/v1/responses",
            json!({"model": "gemma3-270m", "input": "Long. [fixture:context_too_long]"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["param"], "input");
    assert_eq!(error["error"]["code"], "context_length_exceeded");
}

#[tokio::test]
async fn what_the_server_cannot_do_is_the_clients_400_naming_the_parameter() {
    let gateway = Gateway::start().await;
    let mut image = chat("image_part");
    image["messages"] = json!([{"role": "user", "content": [
        {"type": "text", "text": "What is in this image? [fixture:image_part]"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]);
    let (status, error) = gateway.post_json("/v1/chat/completions", image).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["param"], "messages");
    assert_eq!(error["error"]["code"], "unsupported_parameter");
    let mut sound = chat("response_format_unknown");
    sound["response_format"] = json!({"type": "sound"});
    let (status, error) = gateway.post_json("/v1/chat/completions", sound).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["param"], "response_format");
    let (status, error) = gateway
        .post_json(
            "/v1/embeddings",
            json!({"model": "gemma3-270m", "input": "hello"}),
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["param"], "model");
}

/// What a captured error must be read as.
type Meaning = fn(&Fault) -> bool;

#[test]
fn every_captured_error_is_read_as_what_it_means() {
    let fixtures = fixtures();
    let expected: [(&str, Meaning); 9] = [
        ("context_too_long", |fault| {
            matches!(
                fault,
                Fault::ContextTooLong {
                    context_tokens: Some(4096),
                    prompt_tokens: Some(6018)
                }
            )
        }),
        ("context_too_long_stream", |fault| {
            matches!(fault, Fault::ContextTooLong { .. })
        }),
        (
            "response_format_unknown",
            |fault| matches!(fault, Fault::Unsupported { param: Some(param), .. } if param == "response_format"),
        ),
        ("temperature_wrong_type", |fault| {
            matches!(fault, Fault::Invalid { status: 400, .. })
        }),
        ("invalid_json", |fault| {
            matches!(fault, Fault::Invalid { status: 400, .. })
        }),
        (
            "image_part",
            |fault| matches!(fault, Fault::Unsupported { param: Some(param), .. } if param == "messages"),
        ),
        ("messages_missing", |fault| {
            matches!(fault, Fault::Invalid { status: 400, .. })
        }),
        ("assistant_empty", |fault| {
            matches!(fault, Fault::Invalid { status: 400, .. })
        }),
        ("unknown_route", |fault| {
            matches!(fault, Fault::ServerFailure { .. })
        }),
    ];
    for (name, check) in expected {
        let fixture = &fixtures[name];
        let path = fixture["request"]["path"].as_str().unwrap();
        let status = fixture["response"]["status"].as_u64().unwrap() as u16;
        let fault = Fault::classify(path, status, fixture["response"]["body"].as_str().unwrap());
        assert!(check(&fault), "{name}: {fault:?}");
    }
    let embeddings = &fixtures["embeddings"]["response"];
    assert_eq!(
        Fault::classify("/v1/embeddings", 501, embeddings["body"].as_str().unwrap()),
        Fault::CannotEmbed
    );
    // llama.cpp names the field in its words: located in the request.
    let wrong_type = &fixtures["temperature_wrong_type"];
    let fault = Fault::classify(
        "/v1/chat/completions",
        400,
        wrong_type["response"]["body"].as_str().unwrap(),
    )
    .located_in(
        wrong_type["response"]["body"].as_str().unwrap(),
        &wrong_type["request"]["body"],
    );
    assert!(
        matches!(fault, Fault::Invalid { param: Some(ref param), .. } if param == "temperature"),
        "{fault:?}"
    );
}
