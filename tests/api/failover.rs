//! Failover under load: a backend that dies while requests stream in is
//! passed over (no client sees it), its circuit opens, and when it comes back
//! a half-open trial closes the circuit and traffic returns to it. Also: Chat
//! Completions pass-through falls back like Responses, and metrics count each
//! failed attempt against its own backend; a stored chain continues on the
//! fallback with its whole history; a forwarded stream that stalls is ended
//! at the total timeout.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use portico::config::{BackendConfig, BackendKind, Config};
use portico::mock_backend::switchable::SwitchableRelay;
use serde_json::json;
use tokio::task::JoinSet;

use crate::helpers::{
    backend_config, requests_received, spawn_app_with, spawn_mock, Options, TestApp,
};
use crate::metrics::prometheus::value;

async fn requests_seen(client: &reqwest::Client, mock: SocketAddr) -> usize {
    requests_received(client, mock).await.len()
}

fn backend(name: &str, base_url: String) -> BackendConfig {
    backend_config(name, BackendKind::Openai, base_url)
}

/// A streamed chat request for model `m`: its status and its body as text.
async fn chat_stream(app: &TestApp) -> (u16, String) {
    let answer = app
        .client
        .post(app.url("/v1/chat/completions"))
        .json(
            &json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

async fn scrape(app: &TestApp) -> String {
    app.client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Polls until `done` holds (at most ~15 s), with load still running.
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..1500 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

fn circuit_state(metrics: &str, backend: &str) -> Option<f64> {
    value(metrics, "portico_circuit_state", &[("backend", backend)])
}

/// Workers sending Chat Completions and Responses turns in a loop until told
/// to stop; each returns the statuses and bodies of its failures.
fn start_load(
    app: &TestApp,
    workers: usize,
    stop: Arc<AtomicBool>,
) -> JoinSet<(usize, Vec<String>)> {
    let mut load = JoinSet::new();
    for worker in 0..workers {
        let client = app.client.clone();
        let (chat_url, responses_url) = (app.url("/v1/chat/completions"), app.url("/v1/responses"));
        let stop = stop.clone();
        load.spawn(async move {
            let (mut sent, mut failures) = (0, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let (url, body) = if worker % 2 == 0 {
                    (
                        &chat_url,
                        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
                    )
                } else {
                    (
                        &responses_url,
                        json!({"model": "m", "input": "hi", "store": false}),
                    )
                };
                let answer = client.post(url.as_str()).json(&body).send().await.unwrap();
                let status = answer.status();
                let text = answer.text().await.unwrap_or_default();
                sent += 1;
                if status != 200 {
                    failures.push(format!("{url}: {status} {text}"));
                }
            }
            (sent, failures)
        });
    }
    load
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_stopped_mid_load_is_passed_over_and_rejoins_through_a_half_open_trial() {
    let primary_mock = spawn_mock().await;
    let mut primary = SwitchableRelay::start(primary_mock).unwrap();
    let primary_url = format!("http://{}/v1", primary.address());
    let app = spawn_app_with(Options {
        configure: Some(Box::new(move |config: &mut Config| {
            config.backends.insert(0, backend("primary", primary_url));
            config.calls.retries = 0;
            config.health.failure_threshold = 2;
            config.health.cooldown_seconds = 1;
            // No active probes: recovery must come from the half-open trial.
            config.health.probe_interval_seconds = 0;
        })),
        ..Options::default()
    })
    .await;
    let client = reqwest::Client::new();
    let stop = Arc::new(AtomicBool::new(false));
    let workers = 4;
    let mut load = start_load(&app, workers, stop.clone());

    eventually("the primary serves the load", || async {
        requests_seen(&client, primary_mock).await >= 20
    })
    .await;
    assert_eq!(
        app.backend_requests().await.len(),
        0,
        "the fallback is idle while the primary is healthy"
    );

    primary.stop().await;
    eventually("the primary's circuit opens", || async {
        circuit_state(&scrape(&app).await, "primary") == Some(2.0)
    })
    .await;
    // Counted only now: a request the relay had passed on just before it
    // stopped can still be reaching the mock while the relay shuts down.
    let served_by_primary = requests_seen(&client, primary_mock).await;
    eventually("the fallback takes the load", || async {
        app.backend_requests().await.len() >= 20
    })
    .await;
    assert_eq!(
        requests_seen(&client, primary_mock).await,
        served_by_primary,
        "nothing reached the stopped primary"
    );

    primary.resume().unwrap();
    eventually("a half-open trial closes the circuit again", || async {
        circuit_state(&scrape(&app).await, "primary") == Some(0.0)
    })
    .await;
    eventually("the load is back on the primary", || async {
        requests_seen(&client, primary_mock).await >= served_by_primary + 20
    })
    .await;
    stop.store(true, Ordering::Relaxed);

    let (mut sent, mut failures) = (0, Vec::new());
    while let Some(worker) = load.join_next().await {
        let (worker_sent, worker_failures) = worker.unwrap();
        sent += worker_sent;
        failures.extend(worker_failures);
    }
    // Only a request whose answer had started arriving when the primary died
    // can fail (at most one per worker); every other one must be served.
    assert!(
        failures.len() <= workers,
        "{} of {sent} requests failed: {failures:#?}",
        failures.len()
    );
    let metrics = scrape(&app).await;
    let primary_errors = value(
        &metrics,
        "portico_backend_requests_total",
        &[("model", "m"), ("backend", "primary"), ("outcome", "error")],
    )
    .unwrap_or(0.0);
    assert!(
        primary_errors >= 2.0,
        "the attempts that found the primary dead are counted against it: {primary_errors}"
    );
    for backend in ["primary", "mock"] {
        let served = value(
            &metrics,
            "portico_backend_requests_total",
            &[("model", "m"), ("backend", backend), ("outcome", "success")],
        )
        .unwrap_or(0.0);
        assert!(served >= 20.0, "{backend} served {served}");
    }
}

#[tokio::test]
async fn chat_completions_fall_back_and_count_the_failed_attempt_against_its_backend() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/v1", dead.local_addr().unwrap());
    drop(dead);
    let app = spawn_app_with(Options {
        configure: Some(Box::new(move |config: &mut Config| {
            config.backends.insert(0, backend("dead", dead_url));
            config.calls.retries = 1;
            config.calls.backoff_milliseconds = 1;
            config.health.probe_interval_seconds = 0;
        })),
        ..Options::default()
    })
    .await;
    app.script(json!([{"content": "from the fallback"}, {"content": "streamed by the fallback"}]))
        .await;
    let (status, body) = app
        .post(
            "/v1/chat/completions",
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "from the fallback"
    );
    let (status, text) = chat_stream(&app).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("streamed") && text.contains("[DONE]"),
        "{text}"
    );

    let metrics = scrape(&app).await;
    let count = |backend: &str, outcome: &str| {
        value(
            &metrics,
            "portico_backend_requests_total",
            &[("model", "m"), ("backend", backend), ("outcome", outcome)],
        )
    };
    assert_eq!(
        count("dead", "error"),
        Some(4.0),
        "two attempts (one retry) per request:\n{metrics}"
    );
    assert_eq!(count("mock", "success"), Some(2.0), "{metrics}");
    assert_eq!(
        value(
            &metrics,
            "portico_backend_errors_total",
            &[("backend", "dead"), ("kind", "unreachable")]
        ),
        Some(4.0)
    );
    assert!(
        !metrics.contains("backend=\"dead,mock\""),
        "series are labelled by the backend that was called, not the candidate list"
    );
}

#[tokio::test]
async fn a_stored_chain_continues_on_the_fallback_with_its_whole_history() {
    let primary_mock = spawn_mock().await;
    let mut primary = SwitchableRelay::start(primary_mock).unwrap();
    let primary_url = format!("http://{}/v1", primary.address());
    let app = spawn_app_with(Options {
        configure: Some(Box::new(move |config: &mut Config| {
            config.backends.insert(0, backend("primary", primary_url));
            config.health.probe_interval_seconds = 0;
        })),
        ..Options::default()
    })
    .await;
    let (status, first) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "remember 42", "store": true}),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        app.backend_requests().await.len(),
        0,
        "the primary served turn one"
    );
    primary.stop().await;
    let (status, second) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "which number?", "previous_response_id": first["id"]}),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    let seen = app.backend_requests().await;
    assert_eq!(seen.len(), 1, "the fallback served turn two");
    let messages = seen[0]["messages"].as_array().unwrap();
    let contents: Vec<String> = messages
        .iter()
        .map(|message| message["content"].to_string())
        .collect();
    assert_eq!(messages.len(), 3, "{contents:?}");
    assert!(contents[0].contains("remember 42"), "{contents:?}");
    assert_eq!(messages[1]["role"], "assistant");
    assert!(contents[2].contains("which number?"), "{contents:?}");
}

#[tokio::test]
async fn a_forwarded_chat_stream_that_stalls_is_ended_at_the_total_timeout() {
    let app = spawn_app_with(Options {
        configure: Some(Box::new(|config: &mut Config| {
            config.calls.total_timeout_seconds = 1;
        })),
        ..Options::default()
    })
    .await;
    app.script(json!({"content": "one two three four five six", "chunk_delay_ms": 400}))
        .await;
    let (status, text) = chat_stream(&app).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("total timeout") && !text.contains("[DONE]"),
        "ends with OpenAI's mid-stream error chunk: {text}"
    );
    assert!(!text.contains("six"), "cut off before the end: {text}");
}

#[tokio::test]
async fn a_whole_answer_has_the_total_time_and_a_stream_its_first_token_time() {
    let app = spawn_app_with(Options {
        configure: Some(Box::new(|config: &mut Config| {
            config.calls.first_token_timeout_seconds = 1;
            config.calls.total_timeout_seconds = 30;
        })),
        ..Options::default()
    })
    .await;
    // Each answer starts 1.5 s late: after the time to first token.
    let late = json!({"content": "late but whole", "delay_ms": 1500});
    app.script(json!([late.clone(), late.clone(), late])).await;
    let (status, body) = app
        .post(
            "/v1/chat/completions",
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "late but whole");
    let (status, body) = app
        .post("/v1/responses", json!({"model": "m", "input": "hi"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"][0]["content"][0]["text"], "late but whole");
    let (status, text) = chat_stream(&app).await;
    assert_eq!(status, 504, "a stream's first token is late: {text}");
}
