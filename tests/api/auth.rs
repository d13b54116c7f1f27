//! API keys: 401 without a valid key; objects are visible only to their project.

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Options};

#[tokio::test]
async fn a_missing_or_wrong_key_is_401_invalid_api_key() {
    let app = spawn_app_with(Options {
        api_keys: vec![("sk-a", "alpha")],
        ..Options::default()
    })
    .await;
    let answer = app.client.get(app.url("/v1/models")).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 401);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    let answer = app
        .client
        .get(app.url("/v1/models"))
        .bearer_auth("sk-wrong-key-123")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 401);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sk-wrong-key-123"),
        "the key is masked"
    );
    let answer = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 200, "health needs no key");
}

#[tokio::test]
async fn another_projects_response_is_a_404_for_every_operation() {
    let app = spawn_app_with(Options {
        api_keys: vec![("sk-a", "alpha"), ("sk-b", "beta"), ("sk-a2", "alpha")],
        ..Options::default()
    })
    .await;
    let created: Value = app
        .client
        .post(app.url("/v1/responses"))
        .bearer_auth("sk-a")
        .json(&json!({"model": "m", "input": "secret"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let get = |key: &'static str, path: String| {
        let request = app.client.get(app.url(&path)).bearer_auth(key);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        get("sk-a2", format!("/v1/responses/{id}")).await,
        200,
        "same project, other key"
    );
    assert_eq!(get("sk-b", format!("/v1/responses/{id}")).await, 404);
    assert_eq!(
        get("sk-b", format!("/v1/responses/{id}/input_items")).await,
        404
    );
    let status = app
        .client
        .delete(app.url(&format!("/v1/responses/{id}")))
        .bearer_auth("sk-b")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 404);
    let chained = app
        .client
        .post(app.url("/v1/responses"))
        .bearer_auth("sk-b")
        .json(&json!({"model": "m", "input": "x", "previous_response_id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(chained.status().as_u16(), 400);
    assert_eq!(
        get("sk-a", format!("/v1/responses/{id}")).await,
        200,
        "still there for its owner"
    );
}
