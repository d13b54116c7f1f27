//! Assistants v2 runs outside the happy path: cancel (through `cancelling`,
//! closing the backend request), expiry when tool outputs do not arrive, and
//! what a restart finds (an interrupted run fails with a clear `last_error`).

use std::time::Duration;

use portico::config::{BackendConfig, BackendKind, Config};
use portico::http::app::App;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Options, TestApp};
use crate::runs::{assistant_and_thread, wait_for_status, weather_tool};

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

#[tokio::test]
async fn cancel_goes_through_cancelling_and_stops_the_backend() {
    let app = spawn_app().await;
    app.script(json!({"content": "a b c d e f g h i j k l m n o p", "chunk_delay_ms": 200}))
        .await;
    let (assistant, thread) = assistant_and_thread(&app, json!({"model": "m"})).await;
    let (_, run) = app
        .post(
            &format!("/v1/threads/{thread}/runs"),
            json!({"assistant_id": assistant}),
        )
        .await;
    let run_id = run["id"].as_str().unwrap();
    wait_for_status(&app, &thread, run_id, &["in_progress"]).await;
    // Let the first words arrive, so a message is open.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cancel = format!("/v1/threads/{thread}/runs/{run_id}/cancel");
    let answer = app
        .client
        .post(app.url(&cancel))
        .header("content-type", "application/json")
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let cancelling: Value = answer.json().await.unwrap();
    assert_eq!(cancelling["status"], "cancelling");
    let cancelled = wait_for_status(&app, &thread, run_id, &["cancelled"]).await;
    assert!(cancelled["cancelled_at"].is_i64());
    let (_, messages) = app
        .get(&format!("/v1/threads/{thread}/messages?run_id={run_id}"))
        .await;
    assert_eq!(messages["data"][0]["status"], "incomplete");
    assert_eq!(
        messages["data"][0]["incomplete_details"],
        json!({"reason": "run_cancelled"})
    );
    let (_, steps) = app
        .get(&format!("/v1/threads/{thread}/runs/{run_id}/steps"))
        .await;
    assert_eq!(steps["data"][0]["status"], "cancelled");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while disconnected_streams(&app).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the backend request was not closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, error) = app.post(&cancel, json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "Cannot cancel run with status 'cancelled'."
    );
    // The thread is free again.
    let (status, _) = app
        .post(
            &format!("/v1/threads/{thread}/messages"),
            json!({"role": "user", "content": "x"}),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_run_waiting_for_outputs_is_cancelled_at_once() {
    let app = spawn_app().await;
    app.script(json!({"tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": "{}"}]}))
        .await;
    let (assistant, thread) =
        assistant_and_thread(&app, json!({"model": "m", "tools": [weather_tool()]})).await;
    let (_, run) = app
        .post(
            &format!("/v1/threads/{thread}/runs"),
            json!({"assistant_id": assistant}),
        )
        .await;
    let run_id = run["id"].as_str().unwrap();
    wait_for_status(&app, &thread, run_id, &["requires_action"]).await;
    let (status, cancelling) = app
        .post(
            &format!("/v1/threads/{thread}/runs/{run_id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, cancelling["status"].as_str()),
        (200, Some("cancelling"))
    );
    let cancelled = wait_for_status(&app, &thread, run_id, &["cancelled"]).await;
    assert_eq!(cancelled["required_action"], Value::Null);
    let (_, steps) = app
        .get(&format!("/v1/threads/{thread}/runs/{run_id}/steps"))
        .await;
    assert_eq!(steps["data"][0]["status"], "cancelled");
}

#[tokio::test]
async fn a_run_expires_when_tool_outputs_do_not_arrive() {
    let app = spawn_app_with(Options {
        run_expiry_seconds: Some(1),
        ..Options::default()
    })
    .await;
    app.script(json!({"tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": "{}"}]}))
        .await;
    let (assistant, thread) =
        assistant_and_thread(&app, json!({"model": "m", "tools": [weather_tool()]})).await;
    let (_, run) = app
        .post(
            &format!("/v1/threads/{thread}/runs"),
            json!({"assistant_id": assistant}),
        )
        .await;
    let run_id = run["id"].as_str().unwrap();
    assert_eq!(
        run["expires_at"].as_i64().unwrap(),
        run["created_at"].as_i64().unwrap() + 1
    );
    let expired = wait_for_status(&app, &thread, run_id, &["expired"]).await;
    assert_eq!(expired["required_action"], Value::Null);
    let (_, steps) = app
        .get(&format!("/v1/threads/{thread}/runs/{run_id}/steps"))
        .await;
    assert_eq!(steps["data"][0]["status"], "expired");
    assert!(steps["data"][0]["expired_at"].is_i64());
    let (status, error) = app
        .post(
            &format!("/v1/threads/{thread}/runs/{run_id}/submit_tool_outputs"),
            json!({"tool_outputs": [{"tool_call_id": "call_1", "output": "late"}]}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "Runs in status \"expired\" do not accept tool outputs."
    );
}

#[tokio::test]
async fn a_restart_fails_the_run_it_interrupted() {
    let app = spawn_app().await;
    app.script(json!({"content": "slow words that take a long time", "chunk_delay_ms": 2000}))
        .await;
    let (assistant, thread) = assistant_and_thread(&app, json!({"model": "m"})).await;
    let (_, run) = app
        .post(
            &format!("/v1/threads/{thread}/runs"),
            json!({"assistant_id": assistant}),
        )
        .await;
    let run_id = run["id"].as_str().unwrap();
    wait_for_status(&app, &thread, run_id, &["in_progress"]).await;
    // A second server on the same database starts as a restarted one would.
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: app.database_path(),
        backends: vec![BackendConfig {
            name: "mock".into(),
            kind: BackendKind::Openai,
            base_url: format!("http://{}/v1", app.mock_address),
            api_key_env: None,
            models: vec!["*".into()],
            profile: None,
        }],
        ..Config::default()
    };
    let restarted = App::build(config).await.unwrap();
    let address = restarted.address().unwrap();
    tokio::spawn(restarted.run());
    if app
        .database_path()
        .to_string_lossy()
        .starts_with("postgres")
    {
        // A shared database: the first server is a live replica, and its
        // run is still its own (see tests/replicas for a stopped one).
        let (_, run) = app
            .get(&format!("/v1/threads/{thread}/runs/{run_id}"))
            .await;
        assert_eq!(run["status"], "in_progress", "{run}");
        return;
    }
    let run: Value = app
        .client
        .get(format!(
            "http://{address}/v1/threads/{thread}/runs/{run_id}"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["status"], "failed");
    assert_eq!(run["last_error"]["code"], "server_error");
    assert!(run["last_error"]["message"]
        .as_str()
        .unwrap()
        .contains("server stopped"));
}

#[tokio::test]
async fn deleting_a_thread_during_a_run_leaves_no_rows_of_it_behind() {
    let app = spawn_app().await;
    app.script(
        json!({"content": "one two three four five six seven eight", "chunk_delay_ms": 150}),
    )
    .await;
    let (assistant, thread) = assistant_and_thread(&app, json!({"model": "m"})).await;
    let (status, run) = app
        .post(
            &format!("/v1/threads/{thread}/runs"),
            json!({"assistant_id": assistant}),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    wait_for_status(&app, &thread, run["id"].as_str().unwrap(), &["in_progress"]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, deleted) = app.delete(&format!("/v1/threads/{thread}")).await;
    assert_eq!(status, 200, "{deleted}");

    let store = app.open_store().await;
    // The run's task ends once it has seen the cancel and closed its backend
    // stream; give it time to write whatever it still writes.
    for _ in 0..200 {
        if disconnected_streams(&app).await >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    use portico::store::assistants::Kind;
    let run_id = run["id"].as_str().unwrap();
    let everything = portico::wire::query::ListQuery {
        limit: 100,
        ..Default::default()
    };
    let project = portico::access::project::DEFAULT_PROJECT;
    let assistants = &*store.assistants;
    let run_row = assistants
        .get_object(project, Kind::Run, run_id, None)
        .await
        .unwrap();
    let messages = assistants
        .list_objects(project, Kind::Message, Some(&thread), None, &everything)
        .await
        .unwrap();
    let steps = assistants
        .list_objects(project, Kind::Step, None, Some(run_id), &everything)
        .await
        .unwrap();
    assert!(
        run_row.is_none() && messages.items.is_empty() && steps.items.is_empty(),
        "the run's rows outlived its thread: run {run_row:?}, messages {:?}, steps {:?}",
        messages.items,
        steps.items
    );
    assert_eq!(app.get(&format!("/v1/threads/{thread}")).await.0, 404);
}
