//! `/metrics` after real traffic (a JSON response, a stream, backend errors),
//! and the `x-request-id` on every answer.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, Options, TestApp};

pub mod prometheus;

use prometheus::{check_histograms, value};

/// `/metrics` once `ready` holds (requests are recorded when their last byte
/// has left, which may be a moment after the client has read it).
async fn metrics_when(app: &TestApp, ready: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    for _ in 0..200 {
        let answer = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(
            answer.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        text = answer.text().await.unwrap();
        if ready(&text) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("metrics never got there:\n{text}");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_backend_calls_by_outcome() {
    let app = spawn_app().await;
    app.script(json!([
        {"content": "Hello there", "usage": {"prompt_tokens": 7, "completion_tokens": 2}},
        {"content": "one two three", "usage": {"prompt_tokens": 5, "completion_tokens": 3}},
        {"error_status": 500, "error_message": "model crashed"},
    ]))
    .await;
    let (status, response) = app
        .post("/v1/responses", json!({"model": "mock", "input": "Hi"}))
        .await;
    assert_eq!(status, 200, "{response}");
    let response_id = response["id"].as_str().unwrap().to_owned();
    let (status, _) = app.get(&format!("/v1/responses/{response_id}")).await;
    assert_eq!(status, 200);
    let (status, content_type, events) = app
        .post_stream(
            "/v1/chat/completions",
            json!({"model": "mock", "stream": true, "stream_options": {"include_usage": true},
                   "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/event-stream"));
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let (status, error) = app
        .post("/v1/responses", json!({"model": "mock", "input": "Hi"}))
        .await;
    assert_eq!(status, 502, "{error}");

    let route = |route: &'static str, method: &'static str, status: &'static str| {
        [("route", route), ("method", method), ("status", status)]
    };
    let text = metrics_when(&app, |text| {
        value(
            text,
            "portico_requests_total",
            &route("/v1/responses", "POST", "502"),
        ) == Some(1.0)
            && value(
                text,
                "portico_requests_total",
                &route("/v1/chat/completions", "POST", "200"),
            ) == Some(1.0)
    })
    .await;
    let requests = |labels: [(&str, &str); 3]| value(&text, "portico_requests_total", &labels);
    assert_eq!(
        requests(route("/v1/responses", "POST", "200")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        requests(route("/v1/responses/{response_id}", "GET", "200")),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains(&response_id), "no raw id in a label");
    assert_eq!(
        value(
            &text,
            "portico_requests_total",
            &[
                ("route", "/v1/chat/completions"),
                ("status", "200"),
                ("model", "mock"),
                ("backend", "mock")
            ]
        ),
        Some(1.0),
        "requests by the model and backend they called: {text}"
    );
    assert_eq!(
        value(
            &text,
            "portico_requests_total",
            &[
                ("route", "/v1/responses/{response_id}"),
                ("model", ""),
                ("backend", "")
            ]
        ),
        Some(1.0),
        "a request that called no backend has empty ones"
    );
    for labels in [
        route("/v1/responses", "POST", "200"),
        route("/v1/responses", "POST", "502"),
        route("/v1/chat/completions", "POST", "200"),
    ] {
        assert_eq!(
            value(&text, "portico_request_duration_seconds_count", &labels),
            requests(labels),
            "{labels:?}"
        );
    }
    let backend = |outcome| [("model", "mock"), ("backend", "mock"), ("outcome", outcome)];
    assert_eq!(
        value(&text, "portico_backend_requests_total", &backend("success")),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "portico_backend_requests_total", &backend("error")),
        Some(1.0),
        "{text}"
    );
    for (outcome, count) in [("success", 2.0), ("error", 1.0)] {
        assert_eq!(
            value(
                &text,
                "portico_backend_request_duration_seconds_count",
                &backend(outcome)
            ),
            Some(count),
            "every backend request's duration, by outcome"
        );
    }
    assert_eq!(
        value(
            &text,
            "portico_backend_errors_total",
            &[("backend", "mock"), ("kind", "status")]
        ),
        Some(1.0)
    );
    let model = [("model", "mock"), ("backend", "mock")];
    assert_eq!(
        value(&text, "portico_time_to_first_token_seconds_count", &model),
        Some(2.0),
        "{text}"
    );
    let tokens = |direction| {
        [
            ("model", "mock"),
            ("backend", "mock"),
            ("direction", direction),
        ]
    };
    assert_eq!(
        value(&text, "portico_tokens_total", &tokens("input")),
        Some(12.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "portico_tokens_total", &tokens("output")),
        Some(5.0),
        "{text}"
    );
    // The three requests that called the backend; the GET of a stored response did not.
    assert_eq!(
        value(&text, "portico_gateway_added_latency_seconds_count", &[]),
        Some(3.0),
        "{text}"
    );
    // This scrape is the one request in flight.
    assert_eq!(
        value(&text, "portico_in_flight_requests", &[]),
        Some(1.0),
        "{text}"
    );
    assert!(check_histograms(&text) >= 6, "{text}");
    for name in ["portico_circuit_state", "portico_cache_total"] {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
    }
}

#[tokio::test]
async fn an_unreachable_backend_is_counted_and_readiness_says_so() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = spawn_app_with(Options {
        backend_url: Some(format!("http://127.0.0.1:{port}/v1")),
        ..Default::default()
    })
    .await;
    let (status, error) = app
        .post("/v1/responses", json!({"model": "mock", "input": "Hi"}))
        .await;
    assert_eq!(status, 503, "{error}");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready.headers().contains_key("x-request-id"));
    let text = metrics_when(&app, |text| {
        value(
            text,
            "portico_requests_total",
            &[("route", "/readyz"), ("method", "GET"), ("status", "503")],
        ) == Some(1.0)
    })
    .await;
    assert_eq!(
        value(
            &text,
            "portico_backend_errors_total",
            &[("backend", "mock"), ("kind", "unreachable")]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "portico_backend_requests_total",
            &[("model", "mock"), ("backend", "mock"), ("outcome", "error")]
        ),
        Some(1.0),
        "{text}"
    );
    check_histograms(&text);
}

fn request_id(answer: &reqwest::Response) -> String {
    answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn is_generated(id: &str) -> bool {
    id.strip_prefix("req_").is_some_and(|hex| {
        hex.len() == 32 && hex.chars().all(|character| character.is_ascii_hexdigit())
    })
}

#[tokio::test]
async fn the_request_id_is_echoed_when_given_and_generated_when_absent_on_every_answer() {
    let app = spawn_app_with(Options {
        api_keys: vec![("sk-test", "project-a")],
        ..Default::default()
    })
    .await;
    let with_id = |method: reqwest::Method, path: &str, id: &str| {
        app.client
            .request(method, app.url(path))
            .header("x-request-id", id)
            .bearer_auth("sk-test")
    };
    let answer = with_id(reqwest::Method::GET, "/healthz", "client-id-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (answer.status().as_u16(), request_id(&answer)),
        (200, "client-id-1".into())
    );
    // Errors: a malformed body, an unknown route, a wrong method.
    let answer = with_id(reqwest::Method::POST, "/v1/responses", "client-id-2")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (answer.status().as_u16(), request_id(&answer)),
        (400, "client-id-2".into())
    );
    let answer = with_id(reqwest::Method::GET, "/v2/nowhere", "client-id-3")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (answer.status().as_u16(), request_id(&answer)),
        (404, "client-id-3".into())
    );
    let answer = with_id(reqwest::Method::PUT, "/v1/responses", "client-id-4")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (answer.status().as_u16(), request_id(&answer)),
        (405, "client-id-4".into())
    );
    // A stream carries it too.
    let answer = with_id(reqwest::Method::POST, "/v1/responses", "client-id-5")
        .json(&json!({"model": "mock", "input": "Hi", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (answer.status().as_u16(), request_id(&answer)),
        (200, "client-id-5".into())
    );
    let _ = answer.text().await.unwrap();

    // Absent: generated, different each time, on errors too (no API key: 401).
    let first = app.client.get(app.url("/v1/models")).send().await.unwrap();
    assert_eq!(first.status(), 401);
    let second = app.client.get(app.url("/v1/models")).send().await.unwrap();
    assert!(is_generated(&request_id(&first)), "{}", request_id(&first));
    assert_ne!(request_id(&first), request_id(&second));
    // Insane: replaced.
    for insane in ["has space", "quote\"d", &"a".repeat(129)] {
        let answer = with_id(reqwest::Method::GET, "/healthz", insane)
            .send()
            .await
            .unwrap();
        assert!(is_generated(&request_id(&answer)), "{insane}");
    }
    let text = metrics_when(&app, |text| {
        value(
            text,
            "portico_requests_total",
            &[("route", "unmatched"), ("method", "GET"), ("status", "404")],
        ) == Some(1.0)
    })
    .await;
    assert_eq!(
        value(
            &text,
            "portico_requests_total",
            &[
                ("route", "/v1/responses"),
                ("method", "other"),
                ("status", "405")
            ]
        ),
        None,
        "PUT is a known method: {text}"
    );
    assert!(
        value(
            &text,
            "portico_requests_total",
            &[
                ("route", "/v1/responses"),
                ("method", "PUT"),
                ("status", "405")
            ]
        )
        .is_some(),
        "{text}"
    );
}
