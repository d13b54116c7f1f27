//! Assistants v2 runs, polled: completed; requires_action → submit_tool_outputs
//! → completed; create-thread-and-run; bad input. What the backend is asked
//! (instructions, history, tool messages) is checked through the mock's
//! request log. Limits and failures are in `runs_limits`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::assistants::create_assistant;
use crate::helpers::{spawn_app, TestApp};
use crate::threads::create_thread;

/// Polls a run until its status is one of `statuses` (10 s at most).
pub async fn wait_for_status(app: &TestApp, thread: &str, run: &str, statuses: &[&str]) -> Value {
    let path = format!("/v1/threads/{thread}/runs/{run}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = app.get(&path).await;
        assert_eq!(status, 200, "{body}");
        if statuses.contains(&body["status"].as_str().unwrap_or_default()) {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "run stuck in {}",
            body["status"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An assistant (with `assistant` settings) and a thread holding one user message.
pub async fn assistant_and_thread(app: &TestApp, assistant: Value) -> (String, String) {
    let assistant = create_assistant(app, assistant).await;
    let thread = create_thread(
        app,
        json!({"messages": [{"role": "user", "content": "Hi"}]}),
    )
    .await;
    (assistant["id"].as_str().unwrap().to_owned(), thread)
}

pub fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}})
}

pub async fn create_run(app: &TestApp, thread: &str, body: Value) -> Value {
    let (status, run) = app.post(&format!("/v1/threads/{thread}/runs"), body).await;
    assert_eq!(status, 200, "{run}");
    run
}

#[tokio::test]
async fn a_run_completes_and_stores_its_message_and_step() {
    let app = spawn_app().await;
    app.script(
        json!({"content": "Hello there", "usage": {"prompt_tokens": 12, "completion_tokens": 3}}),
    )
    .await;
    let (assistant, thread) = assistant_and_thread(
        &app,
        json!({"model": "m", "instructions": "Be brief.", "temperature": 0.5}),
    )
    .await;
    let answer = app
        .client
        .post(app.url(&format!("/v1/threads/{thread}/runs")))
        .json(&json!({
            "assistant_id": assistant,
            "additional_instructions": "Answer in English.",
            "additional_messages": [{"role": "user", "content": "Also this"}],
            "metadata": {"k": "v"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["openai-poll-after-ms"], "100");
    let run: Value = answer.json().await.unwrap();
    assert_eq!(run["status"], "queued");
    assert_eq!(run["object"], "thread.run");
    assert_eq!(run["instructions"], "Be brief.");
    assert_eq!(
        run["truncation_strategy"],
        json!({"type": "auto", "last_messages": null})
    );
    assert!(run["expires_at"].as_i64().unwrap() >= run["created_at"].as_i64().unwrap() + 599);
    let run_id = run["id"].as_str().unwrap();
    let done = wait_for_status(&app, &thread, run_id, &["completed", "failed"]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["usage"]["total_tokens"], 15);
    assert_eq!(done["expires_at"], Value::Null);
    assert!(done["completed_at"].is_i64());
    assert_eq!(done["metadata"], json!({"k": "v"}));

    let (_, messages) = app.get(&format!("/v1/threads/{thread}/messages")).await;
    let reply = &messages["data"][0];
    assert_eq!(reply["role"], "assistant");
    assert_eq!(reply["run_id"], run_id);
    assert_eq!(reply["assistant_id"], assistant);
    assert_eq!(reply["status"], "completed");
    assert_eq!(reply["content"][0]["text"]["value"], "Hello there");
    assert_eq!(messages["data"].as_array().unwrap().len(), 3);
    let (_, only_run) = app
        .get(&format!("/v1/threads/{thread}/messages?run_id={run_id}"))
        .await;
    assert_eq!(only_run["data"].as_array().unwrap().len(), 1);

    let (_, steps) = app
        .get(&format!("/v1/threads/{thread}/runs/{run_id}/steps"))
        .await;
    let step = &steps["data"][0];
    assert_eq!(step["type"], "message_creation");
    assert_eq!(step["status"], "completed");
    assert_eq!(
        step["step_details"]["message_creation"]["message_id"],
        reply["id"]
    );
    assert_eq!(step["usage"]["prompt_tokens"], 12);
    let step_id = step["id"].as_str().unwrap();
    let (status, fetched) = app
        .get(&format!(
            "/v1/threads/{thread}/runs/{run_id}/steps/{step_id}"
        ))
        .await;
    assert_eq!((status, &fetched), (200, step));

    let requests = app.backend_requests().await;
    let sent = &requests[0];
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be brief.\n\nAnswer in English."})
    );
    assert_eq!(
        sent["messages"][1],
        json!({"role": "user", "content": "Hi"})
    );
    assert_eq!(
        sent["messages"][2],
        json!({"role": "user", "content": "Also this"})
    );
    assert_eq!(sent["temperature"], 0.5);

    let (_, list) = app.get(&format!("/v1/threads/{thread}/runs")).await;
    assert_eq!(list["data"][0]["id"], run_id);
    let (status, modified) = app
        .post(
            &format!("/v1/threads/{thread}/runs/{run_id}"),
            json!({"metadata": {"n": "1"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(modified["metadata"], json!({"n": "1"}));
    assert_eq!(
        app.get(&format!("/v1/threads/{thread}/runs/{run_id}"))
            .await
            .1["metadata"],
        json!({"n": "1"})
    );
}

#[tokio::test]
async fn tool_calls_wait_for_outputs_and_the_same_run_continues() {
    let app = spawn_app().await;
    app.script(json!([
        {"tool_calls": [{"id": "call_weather", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}]},
        {"content": "It is sunny in Paris."}
    ]))
    .await;
    let (assistant, thread) =
        assistant_and_thread(&app, json!({"model": "m", "tools": [weather_tool()]})).await;
    let run = create_run(&app, &thread, json!({"assistant_id": assistant})).await;
    let run_id = run["id"].as_str().unwrap();
    let waiting = wait_for_status(
        &app,
        &thread,
        run_id,
        &["requires_action", "failed", "completed"],
    )
    .await;
    assert_eq!(waiting["status"], "requires_action", "{waiting}");
    assert_eq!(
        waiting["required_action"],
        json!({"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [
            {"id": "call_weather", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
        ]}})
    );
    assert_eq!(waiting["usage"], Value::Null);
    let (_, steps) = app
        .get(&format!("/v1/threads/{thread}/runs/{run_id}/steps"))
        .await;
    assert_eq!(steps["data"][0]["type"], "tool_calls");
    assert_eq!(steps["data"][0]["status"], "in_progress");
    assert_eq!(
        steps["data"][0]["step_details"]["tool_calls"][0]["function"]["output"],
        Value::Null
    );

    // One active run per thread; no messages while it is active.
    let (status, busy) = app
        .post(
            &format!("/v1/threads/{thread}/runs"),
            json!({"assistant_id": assistant}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        busy["error"]["message"],
        format!("Thread {thread} already has an active run {run_id}.")
    );
    let (status, _) = app
        .post(
            &format!("/v1/threads/{thread}/messages"),
            json!({"role": "user", "content": "x"}),
        )
        .await;
    assert_eq!(status, 400);

    let submit = format!("/v1/threads/{thread}/runs/{run_id}/submit_tool_outputs");
    let (status, error) = app.post(&submit, json!({"tool_outputs": []})).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["param"], "tool_outputs");
    let (status, error) = app
        .post(
            &submit,
            json!({"tool_outputs": [{"tool_call_id": "call_other", "output": "x"}]}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["param"], "tool_outputs[0].tool_call_id");
    let (status, queued) = app
        .post(
            &submit,
            json!({"tool_outputs": [{"tool_call_id": "call_weather", "output": "sunny, 24 C"}]}),
        )
        .await;
    assert_eq!(status, 200, "{queued}");
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["required_action"], Value::Null);
    let done = wait_for_status(&app, &thread, run_id, &["completed", "failed"]).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (status, again) = app
        .post(
            &submit,
            json!({"tool_outputs": [{"tool_call_id": "call_weather", "output": "x"}]}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        again["error"]["message"],
        "Runs in status \"completed\" do not accept tool outputs."
    );

    let (_, steps) = app
        .get(&format!(
            "/v1/threads/{thread}/runs/{run_id}/steps?order=asc"
        ))
        .await;
    assert_eq!(steps["data"][0]["status"], "completed");
    assert_eq!(
        steps["data"][0]["step_details"]["tool_calls"][0]["function"]["output"],
        "sunny, 24 C"
    );
    assert!(steps["data"][0]["usage"].is_object());
    assert_eq!(steps["data"][1]["type"], "message_creation");

    let requests = app.backend_requests().await;
    let second = requests[1]["messages"].as_array().unwrap();
    let tail = &second[second.len() - 2..];
    assert_eq!(tail[0]["role"], "assistant");
    assert_eq!(tail[0]["tool_calls"][0]["id"], "call_weather");
    assert_eq!(
        tail[0]["tool_calls"][0]["function"]["arguments"],
        "{\"city\":\"Paris\"}"
    );
    assert_eq!(
        tail[1],
        json!({"role": "tool", "tool_call_id": "call_weather", "content": "sunny, 24 C"})
    );
    assert_eq!(requests[0]["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(requests[0]["tool_choice"], "auto");
}

#[tokio::test]
async fn bad_run_input_is_a_400_or_404_naming_the_param() {
    let app = spawn_app().await;
    let (assistant, thread) = assistant_and_thread(&app, json!({"model": "m"})).await;
    let path = format!("/v1/threads/{thread}/runs");
    for (body, status, param) in [
        (json!({}), 400, Some("assistant_id")),
        (json!({"assistant_id": "abc"}), 400, Some("assistant_id")),
        (
            json!({"assistant_id": assistant, "tools": [{"type": "code_interpreter"}]}),
            400,
            Some("tools[0].type"),
        ),
        (
            json!({"assistant_id": assistant, "tool_choice": {"type": "file_search"}}),
            400,
            Some("tool_choice.type"),
        ),
        (
            json!({"assistant_id": assistant, "additional_messages": [{"role": "user"}]}),
            400,
            Some("additional_messages[0].content"),
        ),
        (
            json!({"assistant_id": assistant, "stream": "yes"}),
            400,
            Some("stream"),
        ),
        (
            json!({"assistant_id": assistant, "max_prompt_tokens": 10}),
            400,
            Some("max_prompt_tokens"),
        ),
        (json!({"assistant_id": "asst_unknown"}), 404, None),
    ] {
        let (got, error) = app.post(&path, body.clone()).await;
        assert_eq!(got, status, "{body}: {error}");
        assert_eq!(error["error"]["param"].as_str(), param, "{body}");
    }
    assert_eq!(
        app.post(
            "/v1/threads/thread_unknown/runs",
            json!({"assistant_id": assistant})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        app.get(&format!("/v1/threads/{thread}/runs/abc")).await.0,
        400
    );
    assert_eq!(
        app.get(&format!("/v1/threads/{thread}/runs/run_unknown"))
            .await
            .0,
        404
    );
    let (status, error) = app
        .post("/v1/threads/runs", json!({"assistant_id": assistant, "tool_resources": {"code_interpreter": {"file_ids": ["f"]}}}))
        .await;
    assert_eq!(
        (status, error["error"]["param"].as_str()),
        (400, Some("tool_resources"))
    );
}

#[tokio::test]
async fn create_thread_and_run_creates_both() {
    let app = spawn_app().await;
    app.script(json!({"content": "Done."})).await;
    let assistant = create_assistant(&app, json!({"model": "m"})).await;
    let (status, run) = app
        .post(
            "/v1/threads/runs",
            json!({"assistant_id": assistant["id"], "thread": {"messages": [{"role": "user", "content": "Go"}], "metadata": {"t": "1"}}}),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    let thread = run["thread_id"].as_str().unwrap();
    let (_, stored_thread) = app.get(&format!("/v1/threads/{thread}")).await;
    assert_eq!(stored_thread["metadata"], json!({"t": "1"}));
    wait_for_status(&app, thread, run["id"].as_str().unwrap(), &["completed"]).await;
    let (_, messages) = app
        .get(&format!("/v1/threads/{thread}/messages?order=asc"))
        .await;
    assert_eq!(messages["data"][0]["content"][0]["text"]["value"], "Go");
    assert_eq!(messages["data"][1]["content"][0]["text"]["value"], "Done.");
}

#[tokio::test]
async fn runs_created_at_once_on_one_thread_leave_exactly_one_active() {
    let app = spawn_app().await;
    app.script(json!({"content": "slow", "delay_ms": 500}))
        .await;
    let (assistant, thread) = assistant_and_thread(&app, json!({"model": "m"})).await;
    let path = format!("/v1/threads/{thread}/runs");
    let body = json!({"assistant_id": assistant});
    let answers = futures::future::join_all((0..6).map(|_| app.post(&path, body.clone()))).await;
    let created: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 200)
        .map(|(_, run)| run)
        .collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    let winner = created[0]["id"].as_str().unwrap();
    for (status, refused) in answers.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(*status, 400, "{refused}");
        assert_eq!(
            refused["error"]["message"],
            format!("Thread {thread} already has an active run {winner}.")
        );
    }
    let (_, runs) = app.get(&format!("/v1/threads/{thread}/runs")).await;
    assert_eq!(runs["data"].as_array().unwrap().len(), 1, "{runs}");
}

#[tokio::test]
async fn a_run_needs_a_user_message_or_instructions_and_a_declared_tool_choice() {
    let app = spawn_app().await;
    let assistant = create_assistant(&app, json!({"model": "m", "tools": [weather_tool()]})).await;
    let assistant = assistant["id"].as_str().unwrap();
    let empty = create_thread(&app, json!({})).await;
    let refused = json!({"error": {
        "message": "Run creation requires a Thread with a user message or an assistant with instructions.",
        "type": "invalid_request_error", "param": null, "code": "invalid_thread",
    }});
    let (status, error) = app
        .post(
            &format!("/v1/threads/{empty}/runs"),
            json!({"assistant_id": assistant}),
        )
        .await;
    assert_eq!((status, error), (400, refused.clone()));
    let (status, error) = app
        .post("/v1/threads/runs", json!({"assistant_id": assistant}))
        .await;
    assert_eq!((status, error), (400, refused));
    let (status, error) = app
        .post(
            &format!("/v1/threads/{empty}/runs"),
            json!({"assistant_id": assistant, "tool_choice": {"type": "function", "function": {"name": "zzz"}},
                   "additional_messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    assert_eq!(
        (status, error["error"]["param"].as_str()),
        (400, Some("tool_choice")),
        "{error}"
    );
    assert!(
        app.backend_requests().await.is_empty(),
        "nothing reached the backend"
    );
    // Instructions alone are enough, and so is a user message.
    create_run(
        &app,
        &empty,
        json!({"assistant_id": assistant, "instructions": "Greet."}),
    )
    .await;
    let other = create_thread(&app, json!({})).await;
    create_run(
        &app,
        &other,
        json!({"assistant_id": assistant, "additional_messages": [{"role": "user", "content": "Hi"}],
               "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}),
    )
    .await;
}

#[tokio::test]
async fn a_run_being_worked_on_cannot_be_updated_and_a_finished_one_can() {
    let app = spawn_app().await;
    app.script(json!([{"content": "a b c d e f g h", "chunk_delay_ms": 100}]))
        .await;
    let (assistant, thread) = assistant_and_thread(&app, json!({"model": "m"})).await;
    let run = create_run(&app, &thread, json!({"assistant_id": assistant})).await;
    let run_id = run["id"].as_str().unwrap();
    let path = format!("/v1/threads/{thread}/runs/{run_id}");
    let working = wait_for_status(&app, &thread, run_id, &["in_progress"]).await;
    let (status, error) = app.post(&path, json!({"metadata": {"k": "v"}})).await;
    assert_eq!(
        (status, error),
        (
            400,
            json!({"error": {
                "message": format!("Cannot update run with status '{}'.", working["status"].as_str().unwrap()),
                "type": "invalid_request_error", "param": null, "code": null,
            }})
        )
    );
    wait_for_status(&app, &thread, run_id, &["completed"]).await;
    let (status, updated) = app.post(&path, json!({"metadata": {"k": "v"}})).await;
    assert_eq!(
        (status, updated["metadata"].clone()),
        (200, json!({"k": "v"}))
    );
}
