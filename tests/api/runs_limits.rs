//! Assistants v2 runs that do not complete: token limits end them
//! `incomplete` with their reason, a backend failure ends them `failed` with
//! a clear `last_error`; and `truncation_strategy` shortens the history.

use serde_json::json;

use crate::assistants::create_assistant;
use crate::helpers::spawn_app;
use crate::runs::{assistant_and_thread, create_run, wait_for_status};
use crate::threads::create_thread;

#[tokio::test]
async fn token_limits_end_the_run_incomplete_with_its_reason() {
    let app = spawn_app().await;
    app.script(json!({"content": "A partial ans", "finish_reason": "length"}))
        .await;
    let (assistant, thread) = assistant_and_thread(&app, json!({"model": "m"})).await;
    let run = create_run(
        &app,
        &thread,
        json!({"assistant_id": assistant, "max_completion_tokens": 256}),
    )
    .await;
    let run_id = run["id"].as_str().unwrap();
    let done = wait_for_status(
        &app,
        &thread,
        run_id,
        &["incomplete", "completed", "failed"],
    )
    .await;
    assert_eq!(done["status"], "incomplete", "{done}");
    assert_eq!(
        done["incomplete_details"],
        json!({"reason": "max_completion_tokens"})
    );
    assert_eq!(app.backend_requests().await[0]["max_tokens"], 256);
    let (_, messages) = app
        .get(&format!("/v1/threads/{thread}/messages?run_id={run_id}"))
        .await;
    assert_eq!(messages["data"][0]["status"], "incomplete");
    assert_eq!(
        messages["data"][0]["incomplete_details"],
        json!({"reason": "max_tokens"})
    );

    let long = "word ".repeat(600);
    let thread = create_thread(
        &app,
        json!({"messages": [{"role": "user", "content": long}]}),
    )
    .await;
    let run = create_run(
        &app,
        &thread,
        json!({"assistant_id": assistant, "max_prompt_tokens": 256}),
    )
    .await;
    let done = wait_for_status(
        &app,
        &thread,
        run["id"].as_str().unwrap(),
        &["incomplete", "completed", "failed"],
    )
    .await;
    assert_eq!(
        done["incomplete_details"],
        json!({"reason": "max_prompt_tokens"})
    );
    assert_eq!(
        app.backend_requests().await.len(),
        1,
        "the backend is not asked"
    );
}

#[tokio::test]
async fn truncation_keeps_the_last_messages() {
    let app = spawn_app().await;
    let assistant = create_assistant(&app, json!({"model": "m"})).await;
    let thread = create_thread(
        &app,
        json!({"messages": [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}, {"role": "user", "content": "three"}]}),
    )
    .await;
    let run = create_run(
        &app,
        &thread,
        json!({"assistant_id": assistant["id"], "truncation_strategy": {"type": "last_messages", "last_messages": 2}, "response_format": {"type": "json_object"}}),
    )
    .await;
    wait_for_status(&app, &thread, run["id"].as_str().unwrap(), &["completed"]).await;
    let sent = &app.backend_requests().await[0];
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": "two"}, {"role": "user", "content": "three"}])
    );
    assert_eq!(sent["response_format"], json!({"type": "json_object"}));
}

#[tokio::test]
async fn a_backend_failure_fails_the_run_with_a_clear_last_error() {
    let app = spawn_app().await;
    app.script(
        json!([{"error_status": 500}, {"content": "one two three four", "fail_after_events": 2}]),
    )
    .await;
    let (assistant, thread) = assistant_and_thread(&app, json!({"model": "m"})).await;
    let run = create_run(&app, &thread, json!({"assistant_id": assistant})).await;
    let failed = wait_for_status(
        &app,
        &thread,
        run["id"].as_str().unwrap(),
        &["failed", "completed"],
    )
    .await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["last_error"]["code"], "server_error");
    assert!(
        failed["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("answered 500"),
        "{failed}"
    );
    assert!(failed["failed_at"].is_i64());

    let run = create_run(&app, &thread, json!({"assistant_id": assistant})).await;
    let run_id = run["id"].as_str().unwrap();
    let failed = wait_for_status(&app, &thread, run_id, &["failed", "completed"]).await;
    assert_eq!(failed["status"], "failed");
    let (_, messages) = app
        .get(&format!("/v1/threads/{thread}/messages?run_id={run_id}"))
        .await;
    assert_eq!(messages["data"][0]["status"], "incomplete");
    assert_eq!(
        messages["data"][0]["incomplete_details"],
        json!({"reason": "run_failed"})
    );
    let (_, steps) = app
        .get(&format!("/v1/threads/{thread}/runs/{run_id}/steps"))
        .await;
    assert_eq!(steps["data"][0]["status"], "failed");
}
