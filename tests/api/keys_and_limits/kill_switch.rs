//! The kill switch: suspending a project or a key cancels its running
//! responses, runs and chat streams at once (the backend sees its requests
//! closed), refuses its new requests with 403, and resuming lifts it.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{call, issue, json_call, key, spawn, ADMIN};
use crate::helpers::TestApp;

/// An admin `POST` (suspend, resume) that must succeed; its answer.
async fn admin_post(app: &TestApp, path: &str) -> Value {
    let (status, body) = json_call(app, "POST", path, ADMIN, Value::Null).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn disconnected_streams(app: &TestApp) -> u64 {
    let stats: Value = app
        .client
        .get(format!("http://{}/control/stats", app.mock_address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["disconnected_streams"].as_u64().unwrap_or_default()
}

async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens a streaming response and waits for its first text delta; returns the rest of the stream.
async fn streaming_response(app: &TestApp, bearer: &str) -> reqwest::Response {
    let body = json!({"model": "m", "input": "x", "stream": true});
    let mut answer = call(app, "POST", "/v1/responses", bearer, body).await;
    assert_eq!(answer.status(), 200);
    let mut seen = String::new();
    while !seen.contains("response.output_text.delta") {
        let chunk = answer
            .chunk()
            .await
            .unwrap()
            .expect("the stream ended early");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    answer
}

#[tokio::test]
async fn suspending_a_project_cancels_its_running_responses_and_refuses_it_until_resumed() {
    let app = spawn(
        vec![
            key("sk-a", "alpha", None, None),
            key("sk-b", "beta", None, None),
        ],
        vec![],
    )
    .await;
    let slow = json!({"content": "a b c d e f g h i j k l m n o p q r s t", "chunk_delay_ms": 100});
    app.script(json!([slow.clone(), slow])).await;
    let stream = streaming_response(&app, "sk-a").await;
    let (_, queued) = json_call(
        &app,
        "POST",
        "/v1/responses",
        "sk-a",
        json!({"model": "m", "input": "x", "background": true}),
    )
    .await;
    let background = format!("/v1/responses/{}", queued["id"].as_str().unwrap());
    wait_until("the background response to stream", || async {
        let (_, body) = json_call(&app, "GET", &background, "sk-a", Value::Null).await;
        body["output"][0]["content"][0]["text"]
            .as_str()
            .is_some_and(|text| !text.is_empty())
    })
    .await;
    let project = admin_post(&app, "/admin/projects/alpha/suspend").await;
    assert_eq!(project["suspended"], true);
    assert_eq!(project["cancelled"]["responses"], 2, "{project}");
    let rest = stream.text().await.unwrap();
    assert!(
        rest.contains("event: error") && rest.contains("project_suspended"),
        "{rest}"
    );
    assert!(!rest.contains("response.completed"));
    wait_until("both backend requests to close", || async {
        disconnected_streams(&app).await == 2
    })
    .await;
    let (status, _) = json_call(&app, "GET", &background, "sk-b", Value::Null).await;
    assert_eq!(status, 404, "another project still sees nothing");
    let (status, body) = json_call(&app, "GET", &background, "sk-a", Value::Null).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["type"], "permission_error");
    assert_eq!(body["error"]["code"], "project_suspended");
    assert_eq!(
        call(&app, "GET", "/v1/models", "sk-b", Value::Null)
            .await
            .status(),
        200
    );
    admin_post(&app, "/admin/projects/alpha/resume").await;
    let (status, body) = json_call(&app, "GET", &background, "sk-a", Value::Null).await;
    assert_eq!((status, body["status"].clone()), (200, json!("cancelled")));
}

#[tokio::test]
async fn suspending_a_key_stops_its_chat_streams_and_runs_and_only_that_key() {
    let app = spawn(vec![key("sk-a", "alpha", None, None)], vec![]).await;
    let issued = issue(&app, json!({"project": "alpha"})).await;
    let (id, secret) = (
        issued["id"].as_str().unwrap(),
        issued["key"].as_str().unwrap(),
    );
    let slow = json!({"content": "a b c d e f g h i j k l m n o p q r s t", "chunk_delay_ms": 100});
    app.script(json!([slow.clone(), slow])).await;
    let chat =
        json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "x"}]});
    let mut stream = call(&app, "POST", "/v1/chat/completions", secret, chat).await;
    assert_eq!(stream.status(), 200);
    stream.chunk().await.unwrap();
    let (_, assistant) = json_call(
        &app,
        "POST",
        "/v1/assistants",
        secret,
        json!({"model": "m"}),
    )
    .await;
    let thread_and_run = json!({"assistant_id": assistant["id"], "thread": {"messages": [{"role": "user", "content": "Hi"}]}});
    let (status, run) = json_call(&app, "POST", "/v1/threads/runs", secret, thread_and_run).await;
    assert_eq!(status, 200, "{run}");
    let run_path = format!(
        "/v1/threads/{}/runs/{}",
        run["thread_id"].as_str().unwrap(),
        run["id"].as_str().unwrap()
    );
    wait_until("the run to start", || async {
        json_call(&app, "GET", &run_path, "sk-a", Value::Null)
            .await
            .1["status"]
            == "in_progress"
    })
    .await;
    // In progress is not yet sent: a run cancelled before its backend request
    // leaves the backend only one request to see closed.
    wait_until("the run's backend request", || async {
        app.backend_requests().await.len() == 2
    })
    .await;
    let key = admin_post(&app, &format!("/admin/keys/{id}/suspend")).await;
    assert_eq!(
        (key["suspended"].clone(), key["cancelled"]["runs"].clone()),
        (json!(true), json!(1))
    );
    let rest = stream.text().await.unwrap();
    assert!(
        rest.contains("\"code\":\"key_suspended\"") && !rest.contains("[DONE]"),
        "{rest}"
    );
    wait_until("the run to be cancelled", || async {
        json_call(&app, "GET", &run_path, "sk-a", Value::Null)
            .await
            .1["status"]
            == "cancelled"
    })
    .await;
    wait_until("both backend requests to close", || async {
        disconnected_streams(&app).await == 2
    })
    .await;
    let (status, body) = json_call(&app, "GET", "/v1/models", secret, Value::Null).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("key_suspended"))
    );
    assert_eq!(
        call(&app, "GET", "/v1/models", "sk-a", Value::Null)
            .await
            .status(),
        200
    );
    let (_, list) = json_call(&app, "GET", "/admin/keys", ADMIN, Value::Null).await;
    assert!(list["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|key| key["id"] == id && key["suspended"] == true));
    admin_post(&app, &format!("/admin/keys/{id}/resume")).await;
    assert_eq!(
        call(&app, "GET", "/v1/models", secret, Value::Null)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn suspending_a_project_stops_a_response_waiting_for_its_whole_answer() {
    let app = spawn(vec![key("sk-a", "alpha", None, None)], vec![]).await;
    // Two seconds of answer, asked in one piece (the client does not stream).
    let slow = json!({"content": "a b c d e f g h i j k l m n o p q r s t", "chunk_delay_ms": 100});
    app.script(json!([slow])).await;
    let started = Instant::now();
    let waiting = {
        let (client, url) = (
            app.client.clone(),
            format!("http://{}/v1/responses", app.address),
        );
        tokio::spawn(async move {
            let answer = client
                .post(url)
                .bearer_auth("sk-a")
                .json(&json!({"model": "m", "input": "x"}))
                .send()
                .await
                .unwrap();
            (
                answer.status().as_u16(),
                answer.json::<Value>().await.unwrap(),
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let project = admin_post(&app, "/admin/projects/alpha/suspend").await;
    assert_eq!(project["cancelled"]["responses"], 1, "{project}");
    let (status, body) = waiting.await.unwrap();
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "project_suspended");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "stopped at once, not when the answer was done ({:?})",
        started.elapsed()
    );
}
