//! Keys, limits and the kill switch: the admin API behind its key, issued keys
//! (used, listed without secrets, revoked), project isolation, per-key request
//! and token limits, daily budgets that outlast a restart; and (`kill_switch`)
//! suspending a project or key (its running work is cancelled, new requests
//! get 403).

mod kill_switch;

use std::time::Duration;

use portico::config::{ApiKeyConfig, Config, ProjectConfig};
use portico::http::app::App;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Options, TestApp};

pub const ADMIN: &str = "sk-admin-secret";

/// A config key with limits.
pub fn key(key: &str, project: &str, rpm: Option<u64>, tpm: Option<u64>) -> ApiKeyConfig {
    ApiKeyConfig {
        key: Some(key.into()),
        project: project.into(),
        requests_per_minute: rpm,
        tokens_per_minute: tpm,
        ..ApiKeyConfig::default()
    }
}

/// Portico with the admin API on, a short rate window and these keys and budgets.
pub async fn spawn(keys: Vec<ApiKeyConfig>, budgets: Vec<(&'static str, u64)>) -> TestApp {
    spawn_app_with(Options {
        configure: Some(Box::new(move |config: &mut Config| {
            config.admin_key = Some(ADMIN.into());
            config.rate_limit_window_ms = 1_000;
            config.api_keys = keys;
            config.projects = budgets
                .into_iter()
                .map(|(name, budget)| ProjectConfig {
                    name: name.into(),
                    daily_token_budget: Some(budget),
                })
                .collect();
        })),
        ..Options::default()
    })
    .await
}

/// Sends `method path` with a bearer key and a JSON body; returns the answer.
pub async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    bearer: &str,
    body: Value,
) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(bearer);
    if !body.is_null() {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

pub async fn json_call(
    app: &TestApp,
    method: &str,
    path: &str,
    bearer: &str,
    body: Value,
) -> (u16, Value) {
    let answer = call(app, method, path, bearer, body).await;
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

pub async fn issue(app: &TestApp, body: Value) -> Value {
    let (status, key) = json_call(app, "POST", "/admin/keys", ADMIN, body).await;
    assert_eq!(status, 200, "{key}");
    key
}

fn respond(input: &str) -> Value {
    json!({"model": "m", "input": input})
}

#[tokio::test]
async fn without_an_admin_key_the_admin_api_does_not_exist() {
    let app = spawn_app().await;
    let (status, body) = json_call(
        &app,
        "POST",
        "/admin/keys",
        "anything",
        json!({"project": "a"}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["message"], "Invalid URL (POST /admin/keys)");
    let (status, _) = json_call(&app, "PUT", "/admin/projects/a/suspend", "x", Value::Null).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_admin_api_needs_the_admin_key_and_v1_keys_are_not_admin_keys() {
    let app = spawn(vec![key("sk-a", "alpha", None, None)], vec![]).await;
    let answer = app.client.get(app.url("/admin/keys")).send().await.unwrap();
    assert_eq!(answer.status(), 401);
    for wrong in ["sk-wrong-admin", "sk-a"] {
        let (status, body) = json_call(&app, "GET", "/admin/keys", wrong, Value::Null).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "invalid_api_key");
    }
    let (status, _) = json_call(&app, "GET", "/v1/models", ADMIN, Value::Null).await;
    assert_eq!(status, 401, "the admin key is not an API key");
}

#[tokio::test]
async fn issued_keys_work_are_listed_without_secrets_and_fail_once_revoked() {
    let app = spawn(vec![key("sk-a", "alpha", Some(100), None)], vec![]).await;
    let issued = issue(
        &app,
        json!({"project": "beta", "name": "ci", "tokens_per_minute": 5000}),
    )
    .await;
    let secret = issued["key"].as_str().unwrap();
    let id = issued["id"].as_str().unwrap();
    assert!(secret.starts_with("sk-portico-") && id.starts_with("key_"));
    assert_eq!(issued["project"], "beta");
    assert_eq!(issued["tokens_per_minute"], 5000);
    assert_eq!(
        call(&app, "GET", "/v1/models", secret, Value::Null)
            .await
            .status(),
        200
    );
    let (_, list) = json_call(&app, "GET", "/admin/keys", ADMIN, Value::Null).await;
    let keys = list["data"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(!list.to_string().contains(secret) && !list.to_string().contains("sk-a\""));
    assert!(keys.iter().all(|key| key.get("key").is_none()));
    let config_key = keys.iter().find(|key| key["source"] == "config").unwrap();
    assert_eq!(config_key["project"], "alpha");
    assert_eq!(config_key["requests_per_minute"], 100);
    let (status, revoked) = json_call(
        &app,
        "DELETE",
        &format!("/admin/keys/{id}"),
        ADMIN,
        Value::Null,
    )
    .await;
    assert_eq!((status, revoked["revoked"].clone()), (200, json!(true)));
    let (status, body) = json_call(&app, "GET", "/v1/models", secret, Value::Null).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_api_key");
    let (status, _) = json_call(
        &app,
        "DELETE",
        "/admin/keys/key_unknown",
        ADMIN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 404);
    let config_id = config_key["id"].as_str().unwrap();
    let (status, _) = json_call(
        &app,
        "DELETE",
        &format!("/admin/keys/{config_id}"),
        ADMIN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 400, "config keys are removed from the file");
    let (status, body) = json_call(
        &app,
        "POST",
        "/admin/keys",
        ADMIN,
        json!({"project": "x", "requests_per_minute": 0}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["param"].clone()),
        (400, json!("requests_per_minute"))
    );
}

#[tokio::test]
async fn issued_keys_see_only_their_projects_objects() {
    let app = spawn(vec![key("sk-a", "alpha", None, None)], vec![]).await;
    let beta_one = issue(&app, json!({"project": "beta"})).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let beta_two = issue(&app, json!({"project": "beta"})).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, created) =
        json_call(&app, "POST", "/v1/responses", &beta_one, respond("secret")).await;
    assert_eq!(status, 200);
    let path = format!("/v1/responses/{}", created["id"].as_str().unwrap());
    assert_eq!(
        json_call(&app, "GET", &path, &beta_two, Value::Null)
            .await
            .0,
        200
    );
    assert_eq!(
        json_call(&app, "GET", &path, "sk-a", Value::Null).await.0,
        404
    );
}

#[tokio::test]
async fn a_key_over_its_requests_per_minute_gets_429_until_the_window_has_passed() {
    let app = spawn(vec![key("sk-a", "alpha", Some(2), None)], vec![]).await;
    for remaining in ["1", "0"] {
        let answer = call(&app, "GET", "/v1/models", "sk-a", Value::Null).await;
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["x-ratelimit-limit-requests"], "2");
        assert_eq!(
            answer.headers()["x-ratelimit-remaining-requests"],
            remaining
        );
        assert!(answer.headers().contains_key("x-ratelimit-reset-requests"));
    }
    let refused = call(&app, "GET", "/v1/models", "sk-a", Value::Null).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let wait: u64 = refused.headers()["retry-after-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["type"], "requests");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(body["error"]["param"], Value::Null);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "on requests per min (RPM): Limit 2, Used 2, Requested 1. Please try again in"
        ),
        "{message}"
    );
    tokio::time::sleep(Duration::from_millis(wait + 50)).await;
    assert_eq!(
        call(&app, "GET", "/v1/models", "sk-a", Value::Null)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn tokens_per_minute_count_the_usage_of_finished_responses_and_completions() {
    let app = spawn(
        vec![
            key("sk-a", "alpha", None, Some(50)),
            key("sk-c", "alpha", None, Some(50)),
        ],
        vec![],
    )
    .await;
    app.script(json!([
        {"content": "hi", "usage": {"prompt_tokens": 40, "completion_tokens": 20}},
        {"content": "hi", "usage": {"prompt_tokens": 30, "completion_tokens": 30}},
    ]))
    .await;
    let answer = call(&app, "POST", "/v1/responses", "sk-a", respond("x")).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-ratelimit-limit-tokens"], "50");
    let refused = call(&app, "POST", "/v1/responses", "sk-a", respond("x")).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["x-ratelimit-remaining-tokens"], "0");
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["type"], "tokens");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("tokens per min (TPM): Limit 50, Used 60"));
    let chat = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
    assert_eq!(
        call(&app, "POST", "/v1/chat/completions", "sk-c", chat.clone())
            .await
            .status(),
        200
    );
    let (status, body) = json_call(&app, "POST", "/v1/chat/completions", "sk-c", chat).await;
    assert_eq!(
        (status, body["error"]["type"].clone()),
        (429, json!("tokens"))
    );
}

#[tokio::test]
async fn a_streamed_chat_completion_counts_its_usage_against_tokens_per_minute() {
    let app = spawn(vec![key("sk-s", "alpha", None, Some(50))], vec![]).await;
    app.script(json!([
        {"content": "hi there", "usage": {"prompt_tokens": 40, "completion_tokens": 20}},
    ]))
    .await;
    let chat = json!({"model": "m", "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": "x"}]});
    let answer = call(&app, "POST", "/v1/chat/completions", "sk-s", chat.clone()).await;
    assert_eq!(answer.status(), 200);
    let stream = answer.text().await.unwrap();
    assert!(stream.contains("\"total_tokens\":60"), "{stream}");
    assert!(stream.ends_with("data: [DONE]\n\n"), "{stream}");
    let (status, body) = json_call(&app, "POST", "/v1/chat/completions", "sk-s", chat).await;
    assert_eq!(status, 429, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("tokens per min (TPM): Limit 50, Used 60"));
}

/// A second server on the first one's database and mock (as after a restart).
async fn restarted(app: &TestApp) -> std::net::SocketAddr {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: app.database_path(),
        api_keys: vec![key("sk-a", "alpha", None, None)],
        projects: vec![ProjectConfig {
            name: "alpha".into(),
            daily_token_budget: Some(50),
        }],
        ..Config::default()
    };
    config.add_backend_url(&format!("http://{}/v1", app.mock_address));
    let second = App::build(config).await.unwrap();
    let address = second.address().unwrap();
    tokio::spawn(second.run());
    address
}

#[tokio::test]
async fn a_project_over_its_daily_budget_gets_insufficient_quota_even_after_a_restart() {
    let app = spawn(
        vec![
            key("sk-a", "alpha", None, None),
            key("sk-b", "beta", None, None),
        ],
        vec![("alpha", 50)],
    )
    .await;
    app.script(json!({"content": "hi", "usage": {"prompt_tokens": 40, "completion_tokens": 20}}))
        .await;
    assert_eq!(
        call(&app, "POST", "/v1/responses", "sk-a", respond("x"))
            .await
            .status(),
        200
    );
    let refused = call(&app, "GET", "/v1/models", "sk-a", Value::Null).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["x-should-retry"], "false");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["type"], "insufficient_quota");
    assert_eq!(body["error"]["code"], "insufficient_quota");
    assert_eq!(
        call(&app, "GET", "/v1/models", "sk-b", Value::Null)
            .await
            .status(),
        200
    );
    let (_, project) = json_call(&app, "GET", "/admin/projects/alpha", ADMIN, Value::Null).await;
    assert_eq!(project["tokens_used_today"], 60);
    assert_eq!(project["daily_token_budget"], 50);
    let address = restarted(&app).await;
    let answer = app
        .client
        .get(format!("http://{address}/v1/models"))
        .bearer_auth("sk-a")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 429, "the day's usage was kept");
}
