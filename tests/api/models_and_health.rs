//! Models listing and the health endpoints.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn models_lists_what_the_backend_reports() {
    let app = spawn_app().await;
    let (status, list) = app.get("/v1/models").await;
    assert_eq!(status, 200);
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"][0]["id"], "mock");
    assert_eq!(list["data"][0]["object"], "model");
    // A real time (OpenAI's is never 0), the same on every read.
    let created = list["data"][0]["created"].as_i64().unwrap();
    assert!(created > 1_700_000_000, "{list}");
    let (status, model) = app.get("/v1/models/mock").await;
    assert_eq!(status, 200);
    assert_eq!(model["id"], "mock");
    assert_eq!(model["created"], created);
    let (status, missing) = app.get("/v1/models/nope").await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn readiness_reflects_the_database_and_the_backend() {
    let app = spawn_app().await;
    let (status, body) = app.get("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["database"], true);
    assert_eq!(body["backends"]["mock"], true);
}

#[tokio::test]
async fn readiness_is_false_when_no_backend_answers() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = crate::helpers::spawn_app_with(crate::helpers::Options {
        backend_url: Some(format!("http://127.0.0.1:{port}/v1")),
        ..Default::default()
    })
    .await;
    let (status, body): (u16, Value) = app.get("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body["backends"]["mock"], false);
}
