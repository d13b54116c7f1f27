//! The generation cache and single flight on Chat Completions forwarded to
//! HTTP backends (temperature 0 or a seed), and cache settings per route.

use std::time::Duration;

use futures::future::join_all;
use portico::config::{Config, RouteCacheConfig, RouteConfig};
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Options, TestApp};

async fn send(app: &TestApp, path: &str, body: &Value) -> (String, String) {
    let answer = app
        .client
        .post(app.url(path))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let outcome = answer
        .headers()
        .get("x-portico-cache")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_else(|| "none".to_owned());
    (outcome, answer.text().await.unwrap())
}

/// The `id`s of a chat answer: the completion's, or every chunk's.
fn ids(text: &str) -> Vec<String> {
    if let Ok(completion) = serde_json::from_str::<Value>(text) {
        return vec![completion["id"].as_str().unwrap().to_owned()];
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter(|data| *data != "[DONE]")
        .map(|data| {
            serde_json::from_str::<Value>(data).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn identical_deterministic_chat_completions_in_flight_share_one_forwarded_call() {
    let app = spawn_app_with(Options::default()).await;
    app.script(json!([{"content": "one answer for all", "delay_ms": 300}, {"content": "streamed for all", "delay_ms": 300}]))
        .await;
    let body =
        json!({"model": "m", "temperature": 0, "messages": [{"role": "user", "content": "same"}]});
    let answers = join_all((0..4).map(|_| send(&app, "/v1/chat/completions", &body))).await;
    let mut outcomes: Vec<&str> = answers
        .iter()
        .map(|(outcome, _)| outcome.as_str())
        .collect();
    outcomes.sort();
    assert_eq!(outcomes, ["miss", "shared", "shared", "shared"]);
    let mut completion_ids = Vec::new();
    for (_, text) in &answers {
        let completion: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            completion["choices"][0]["message"]["content"],
            "one answer for all"
        );
        completion_ids.extend(ids(text));
    }
    completion_ids.sort();
    completion_ids.dedup();
    assert_eq!(completion_ids.len(), 4, "each client gets its own id");
    assert_eq!(app.backend_requests().await.len(), 1);

    let streamed = json!({"model": "m", "seed": 42, "stream": true, "messages": [{"role": "user", "content": "same"}]});
    let answers = join_all((0..3).map(|_| send(&app, "/v1/chat/completions", &streamed))).await;
    let mut stream_ids = Vec::new();
    for (_, text) in &answers {
        assert!(
            text.contains("streamed") && text.trim_end().ends_with("data: [DONE]"),
            "{text}"
        );
        let chunk_ids = ids(text);
        assert!(
            chunk_ids.windows(2).all(|pair| pair[0] == pair[1]),
            "one id a stream"
        );
        stream_ids.push(chunk_ids[0].clone());
    }
    stream_ids.dedup();
    assert_eq!(stream_ids.len(), 3, "{stream_ids:?}");
    assert_eq!(
        app.backend_requests().await.len(),
        2,
        "a seed makes a request deterministic too"
    );
}

#[tokio::test]
async fn a_route_keeps_its_own_cache_for_chat_and_responses() {
    let app = spawn_app_with(Options {
        configure: Some(Box::new(|config: &mut Config| {
            // Off globally; on for one route.
            config.cache.enabled = false;
            config.routes.push(RouteConfig {
                model: "cached".into(),
                aliases: vec!["cached-alias".into()],
                backends: vec!["mock".into()],
                upstream_model: None,
                cache: Some(RouteCacheConfig {
                    enabled: Some(true),
                    ttl_seconds: Some(60),
                    ..RouteCacheConfig::default()
                }),
            });
        })),
        ..Options::default()
    })
    .await;
    let chat = |model: &str| json!({"model": model, "seed": 7, "store": true, "messages": [{"role": "user", "content": "q"}]});
    let (first, first_text) = send(&app, "/v1/chat/completions", &chat("cached")).await;
    let (second, second_text) = send(&app, "/v1/chat/completions", &chat("cached")).await;
    assert_eq!((first.as_str(), second.as_str()), ("miss", "hit"));
    assert_eq!(app.backend_requests().await.len(), 1);
    let (first_id, second_id) = (ids(&first_text).remove(0), ids(&second_text).remove(0));
    assert_ne!(first_id, second_id);
    let (status, stored) = app.get(&format!("/v1/chat/completions/{second_id}")).await;
    assert_eq!(
        status, 200,
        "a replayed completion is stored under its own id: {stored}"
    );

    // The alias shares the route's settings; a model without its own settings
    // only shares calls in flight (the global cache is off).
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (alias, _) = send(&app, "/v1/chat/completions", &chat("cached-alias")).await;
    assert_eq!(alias, "miss", "another model name is another request");
    let (again, _) = send(&app, "/v1/chat/completions", &chat("cached-alias")).await;
    assert_eq!(again, "hit");
    let (plain_first, _) = send(&app, "/v1/chat/completions", &chat("m")).await;
    let (plain_second, _) = send(&app, "/v1/chat/completions", &chat("m")).await;
    assert_eq!(
        (plain_first.as_str(), plain_second.as_str()),
        ("miss", "miss")
    );
    assert_eq!(app.backend_requests().await.len(), 4);

    let responses = json!({"model": "cached", "input": "q", "temperature": 0});
    let (first, _) = send(&app, "/v1/responses", &responses).await;
    let (second, _) = send(&app, "/v1/responses", &responses).await;
    assert_eq!((first.as_str(), second.as_str()), ("miss", "hit"));
    assert_eq!(app.backend_requests().await.len(), 5);
}
