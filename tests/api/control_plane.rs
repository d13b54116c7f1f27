//! The control plane: fallback across backends before the first byte, circuit
//! breakers, routes with aliases and renamed upstream models, the generation
//! cache and single flight, and the Ollama native backend.

use std::net::SocketAddr;
use std::time::Duration;

use portico::config::{BackendKind, CacheConfig, Config, RouteConfig};
use serde_json::{json, Value};

use crate::helpers::{
    backend_config, requests_received, spawn_app_with, spawn_mock, Options, TestApp,
};

async fn requests_seen(app: &TestApp, mock: SocketAddr) -> usize {
    requests_received(&app.client, mock).await.len()
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn an_unreachable_first_backend_falls_back_to_the_next() {
    let port = closed_port();
    let app = spawn_app_with(Options {
        configure: Some(Box::new(move |config: &mut Config| {
            // The mock is the only backend so far: put a dead one before it.
            config.backends.insert(
                0,
                backend_config(
                    "dead",
                    BackendKind::Openai,
                    format!("http://127.0.0.1:{port}/v1"),
                ),
            );
        })),
        ..Options::default()
    })
    .await;
    app.script(json!({"content": "served by the fallback"}))
        .await;
    let (status, body) = app
        .post("/v1/responses", json!({"model": "m", "input": "hi"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["output"][0]["content"][0]["text"],
        "served by the fallback"
    );
}

#[tokio::test]
async fn a_5xx_before_the_first_token_is_retried_elsewhere_and_opens_the_circuit() {
    let failing = spawn_mock().await;
    let app = spawn_app_with(Options {
        configure: Some(Box::new(move |config: &mut Config| {
            config.backends.insert(
                0,
                backend_config("flaky", BackendKind::Openai, format!("http://{failing}/v1")),
            );
            config.calls.retries = 0;
            config.health.failure_threshold = 2;
            config.health.cooldown_seconds = 60;
            config.health.probe_interval_seconds = 0;
        })),
        ..Options::default()
    })
    .await;
    let client = reqwest::Client::new();
    client
        .post(format!("http://{failing}/control/scripts"))
        .json(&json!([{"error_status": 500}, {"error_status": 500}, {"error_status": 500}]))
        .send()
        .await
        .unwrap();
    for turn in 0..4 {
        let (status, body) = app
            .post(
                "/v1/responses",
                json!({"model": "m", "input": format!("turn {turn}")}),
            )
            .await;
        assert_eq!(status, 200, "turn {turn}: {body}");
    }
    assert_eq!(
        requests_seen(&app, failing).await,
        2,
        "after two failures the circuit is open: no more calls"
    );
    assert_eq!(
        app.backend_requests().await.len(),
        4,
        "every turn was served by the healthy backend"
    );
}

#[tokio::test]
async fn a_client_error_is_answered_without_fallback() {
    let other = spawn_mock().await;
    let app = spawn_app_with(Options {
        configure: Some(Box::new(move |config: &mut Config| {
            config.backends.push(backend_config(
                "other",
                BackendKind::Openai,
                format!("http://{other}/v1"),
            ));
        })),
        ..Options::default()
    })
    .await;
    app.script(json!({"error_status": 400, "error_message": "context length exceeded"}))
        .await;
    let (status, body) = app
        .post("/v1/responses", json!({"model": "m", "input": "hi"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(requests_seen(&app, other).await, 0);
}

#[tokio::test]
async fn routes_serve_aliases_rename_the_upstream_model_and_are_listed() {
    let app = spawn_app_with(Options {
        configure: Some(Box::new(|config: &mut Config| {
            config.routes.push(RouteConfig {
                model: "gemma".into(),
                aliases: vec!["fast".into()],
                backends: vec!["mock".into()],
                upstream_model: Some("gemma3:270m".into()),
                cache: None,
            });
        })),
        ..Options::default()
    })
    .await;
    let (status, body) = app
        .post("/v1/responses", json!({"model": "fast", "input": "hi"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "fast", "the client's name is echoed");
    assert_eq!(app.backend_requests().await[0]["model"], "gemma3:270m");
    let (status, body) = app
        .post(
            "/v1/chat/completions",
            json!({"model": "fast", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.backend_requests().await[1]["model"],
        "gemma3:270m",
        "a forwarded Chat Completions body is renamed too"
    );
    let (_, models) = app.get("/v1/models").await;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|model| model["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"gemma") && ids.contains(&"fast"), "{ids:?}");
}

#[tokio::test]
async fn the_cache_replays_a_deterministic_answer_under_new_ids() {
    let app = spawn_app_with(Options {
        configure: Some(Box::new(|config: &mut Config| {
            config.cache = CacheConfig {
                enabled: true,
                ..CacheConfig::default()
            };
        })),
        ..Options::default()
    })
    .await;
    app.script(json!({"content": "cached answer"})).await;
    let request = json!({"model": "m", "input": "same question", "temperature": 0});
    let first = app
        .client
        .post(app.url("/v1/responses"))
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(first.headers()["x-portico-cache"], "miss");
    let first: Value = first.json().await.unwrap();
    let second = app
        .client
        .post(app.url("/v1/responses"))
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(second.headers()["x-portico-cache"], "hit");
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["output"][0]["content"][0]["text"], "cached answer");
    assert_ne!(first["id"], second["id"]);
    assert_ne!(first["output"][0]["id"], second["output"][0]["id"]);
    assert_eq!(
        app.get(&format!("/v1/responses/{}", second["id"].as_str().unwrap()))
            .await
            .0,
        200
    );
    assert_eq!(app.backend_requests().await.len(), 1);
    let warm = json!({"model": "m", "input": "same question", "temperature": 0.7});
    let answer = app
        .client
        .post(app.url("/v1/responses"))
        .json(&warm)
        .send()
        .await
        .unwrap();
    assert!(
        answer.headers().get("x-portico-cache").is_none(),
        "non-deterministic requests bypass it"
    );
}

#[tokio::test]
async fn identical_deterministic_requests_in_flight_share_one_backend_call() {
    let app = spawn_app_with(Options::default()).await;
    app.script(json!({"content": "shared answer", "delay_ms": 300}))
        .await;
    let request = json!({"model": "m", "input": "same question", "temperature": 0});
    let send = || {
        app.client
            .post(app.url("/v1/responses"))
            .json(&request)
            .send()
    };
    let (first, second) = tokio::join!(send(), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        send().await
    });
    let (first, second) = (first.unwrap(), second.unwrap());
    let mut outcomes = vec![
        first.headers()["x-portico-cache"]
            .to_str()
            .unwrap()
            .to_owned(),
        second.headers()["x-portico-cache"]
            .to_str()
            .unwrap()
            .to_owned(),
    ];
    outcomes.sort();
    assert_eq!(outcomes, ["miss", "shared"]);
    let (first, second): (Value, Value) =
        (first.json().await.unwrap(), second.json().await.unwrap());
    assert_eq!(first["output"][0]["content"][0]["text"], "shared answer");
    assert_eq!(second["output"][0]["content"][0]["text"], "shared answer");
    assert_ne!(first["id"], second["id"]);
    assert_eq!(app.backend_requests().await.len(), 1);
}

#[tokio::test]
async fn the_ollama_native_backend_serves_responses_and_tool_calls() {
    let ollama = spawn_mock().await;
    let app = spawn_app_with(Options {
        configure: Some(Box::new(move |config: &mut Config| {
            config.backends = vec![backend_config(
                "ollama",
                BackendKind::Ollama,
                format!("http://{ollama}"),
            )];
        })),
        ..Options::default()
    })
    .await;
    let client = reqwest::Client::new();
    client
        .post(format!("http://{ollama}/control/scripts"))
        .json(&json!([{"reasoning": "thinking", "content": "Hello from Ollama"}, {"tool_calls": [{"name": "lookup", "arguments": "{\"q\":\"x\"}"}]}]))
        .send()
        .await
        .unwrap();
    let (status, body) = app
        .post("/v1/responses", json!({"model": "qwen3", "input": "hi"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"][0]["type"], "reasoning");
    assert_eq!(body["output"][1]["content"][0]["text"], "Hello from Ollama");
    let tools = json!([{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]);
    let (_, body) = app
        .post(
            "/v1/responses",
            json!({"model": "qwen3", "input": "find", "tools": tools}),
        )
        .await;
    assert_eq!(body["output"][0]["type"], "function_call");
    assert_eq!(body["output"][0]["arguments"], "{\"q\":\"x\"}");
    assert!(body["output"][0]["call_id"]
        .as_str()
        .unwrap()
        .starts_with("call_"));
    let seen = requests_received(&client, ollama).await;
    assert_eq!(seen[0]["stream"], true);
    assert_eq!(seen[1]["tools"][0]["function"]["name"], "lookup");
}

#[tokio::test]
async fn detection_finds_servers_that_answer_and_skips_the_others() {
    let listening = spawn_mock().await;
    let closed = closed_port();
    let base_url: &'static str = Box::leak(format!("http://{listening}/v1").into_boxed_str());
    let dead: &'static str = Box::leak(format!("http://127.0.0.1:{closed}/v1").into_boxed_str());
    let ollama_root: &'static str = Box::leak(format!("http://{listening}").into_boxed_str());
    let found = portico::backends::build::detect_servers(&[
        ("llama.cpp", BackendKind::Openai, base_url, "/models"),
        ("vllm", BackendKind::Openai, dead, "/models"),
        ("ollama", BackendKind::Ollama, ollama_root, "/api/tags"),
    ])
    .await;
    let names: Vec<&str> = found.iter().map(|backend| backend.name.as_str()).collect();
    assert_eq!(names, ["llama.cpp", "ollama"]);
    assert_eq!(found[1].kind, BackendKind::Ollama);
    assert_eq!(found[0].models, ["*"]);
}
