//! Per-project isolation across every stored object type: one project's
//! responses, conversations and their items, stored chat completions,
//! assistants, threads, messages, runs and run steps are invisible to another
//! project's key — every read, write, delete and list answers as if they did
//! not exist, and naming them in a new request (previous_response_id,
//! conversation, assistant_id) is refused — while the owner still sees them
//! unchanged.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Options, TestApp};

const OWNER: &str = "sk-owner";
const OTHER: &str = "sk-other";

async fn call(app: &TestApp, method: &str, path: &str, key: &str, body: Value) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(key)
        .header("OpenAI-Beta", "assistants=v2");
    if !body.is_null() {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, object) = call(app, "POST", path, OWNER, body).await;
    assert_eq!(status, 200, "{path}: {object}");
    object
}

fn id(object: &Value) -> String {
    object["id"].as_str().unwrap().to_owned()
}

/// The owner's objects, one of each kind, by name.
struct Owned {
    response: String,
    conversation: String,
    conversation_item: String,
    completion: String,
    assistant: String,
    thread: String,
    message: String,
    run: String,
    step: String,
}

async fn create_one_of_each(app: &TestApp) -> Owned {
    let response = id(&created(app, "/v1/responses", json!({"model": "m", "input": "mine"})).await);
    let conversation = created(
        app,
        "/v1/conversations",
        json!({"items": [{"type": "message", "role": "user", "content": "mine"}]}),
    )
    .await;
    let conversation = id(&conversation);
    let (_, items) = call(
        app,
        "GET",
        &format!("/v1/conversations/{conversation}/items"),
        OWNER,
        Value::Null,
    )
    .await;
    let conversation_item = id(&items["data"][0]);
    let completion = id(&created(
        app,
        "/v1/chat/completions",
        json!({"model": "m", "store": true, "messages": [{"role": "user", "content": "mine"}]}),
    )
    .await);
    let assistant =
        id(&created(app, "/v1/assistants", json!({"model": "m", "name": "mine"})).await);
    let thread = id(&created(
        app,
        "/v1/threads",
        json!({"messages": [{"role": "user", "content": "mine"}]}),
    )
    .await);
    let (_, messages) = call(
        app,
        "GET",
        &format!("/v1/threads/{thread}/messages"),
        OWNER,
        Value::Null,
    )
    .await;
    let message = id(&messages["data"][0]);
    let run = id(&created(
        app,
        &format!("/v1/threads/{thread}/runs"),
        json!({"assistant_id": assistant}),
    )
    .await);
    let mut status = String::new();
    for _ in 0..200 {
        let (_, polled) = call(
            app,
            "GET",
            &format!("/v1/threads/{thread}/runs/{run}"),
            OWNER,
            Value::Null,
        )
        .await;
        status = polled["status"].as_str().unwrap_or_default().to_owned();
        if status == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, "completed");
    let (_, steps) = call(
        app,
        "GET",
        &format!("/v1/threads/{thread}/runs/{run}/steps"),
        OWNER,
        Value::Null,
    )
    .await;
    let step = id(&steps["data"][0]);
    Owned {
        response,
        conversation,
        conversation_item,
        completion,
        assistant,
        thread,
        message,
        run,
        step,
    }
}

/// Every operation on one of the owner's objects, with a harmless body.
fn operations(owned: &Owned) -> Vec<(&'static str, String, Value)> {
    let Owned {
        response,
        conversation,
        conversation_item,
        completion,
        assistant,
        thread,
        message,
        run,
        step,
    } = owned;
    let metadata = json!({"metadata": {"taken": "yes"}});
    vec![
        ("GET", format!("/v1/responses/{response}"), Value::Null),
        (
            "GET",
            format!("/v1/responses/{response}/input_items"),
            Value::Null,
        ),
        (
            "POST",
            format!("/v1/responses/{response}/cancel"),
            Value::Null,
        ),
        ("DELETE", format!("/v1/responses/{response}"), Value::Null),
        (
            "GET",
            format!("/v1/conversations/{conversation}"),
            Value::Null,
        ),
        (
            "POST",
            format!("/v1/conversations/{conversation}"),
            metadata.clone(),
        ),
        (
            "GET",
            format!("/v1/conversations/{conversation}/items"),
            Value::Null,
        ),
        (
            "POST",
            format!("/v1/conversations/{conversation}/items"),
            json!({"items": [{"type": "message", "role": "user", "content": "theirs"}]}),
        ),
        (
            "GET",
            format!("/v1/conversations/{conversation}/items/{conversation_item}"),
            Value::Null,
        ),
        (
            "DELETE",
            format!("/v1/conversations/{conversation}/items/{conversation_item}"),
            Value::Null,
        ),
        (
            "DELETE",
            format!("/v1/conversations/{conversation}"),
            Value::Null,
        ),
        (
            "GET",
            format!("/v1/chat/completions/{completion}"),
            Value::Null,
        ),
        (
            "GET",
            format!("/v1/chat/completions/{completion}/messages"),
            Value::Null,
        ),
        (
            "POST",
            format!("/v1/chat/completions/{completion}"),
            metadata.clone(),
        ),
        (
            "DELETE",
            format!("/v1/chat/completions/{completion}"),
            Value::Null,
        ),
        ("GET", format!("/v1/assistants/{assistant}"), Value::Null),
        (
            "POST",
            format!("/v1/assistants/{assistant}"),
            metadata.clone(),
        ),
        ("DELETE", format!("/v1/assistants/{assistant}"), Value::Null),
        ("GET", format!("/v1/threads/{thread}"), Value::Null),
        ("POST", format!("/v1/threads/{thread}"), metadata.clone()),
        ("GET", format!("/v1/threads/{thread}/messages"), Value::Null),
        (
            "POST",
            format!("/v1/threads/{thread}/messages"),
            json!({"role": "user", "content": "theirs"}),
        ),
        (
            "GET",
            format!("/v1/threads/{thread}/messages/{message}"),
            Value::Null,
        ),
        (
            "POST",
            format!("/v1/threads/{thread}/messages/{message}"),
            metadata.clone(),
        ),
        (
            "DELETE",
            format!("/v1/threads/{thread}/messages/{message}"),
            Value::Null,
        ),
        ("GET", format!("/v1/threads/{thread}/runs"), Value::Null),
        (
            "POST",
            format!("/v1/threads/{thread}/runs"),
            json!({"assistant_id": assistant}),
        ),
        (
            "GET",
            format!("/v1/threads/{thread}/runs/{run}"),
            Value::Null,
        ),
        (
            "POST",
            format!("/v1/threads/{thread}/runs/{run}"),
            metadata.clone(),
        ),
        (
            "POST",
            format!("/v1/threads/{thread}/runs/{run}/cancel"),
            Value::Null,
        ),
        (
            "POST",
            format!("/v1/threads/{thread}/runs/{run}/submit_tool_outputs"),
            json!({"tool_outputs": [{"tool_call_id": "call_x", "output": "{}"}]}),
        ),
        (
            "GET",
            format!("/v1/threads/{thread}/runs/{run}/steps"),
            Value::Null,
        ),
        (
            "GET",
            format!("/v1/threads/{thread}/runs/{run}/steps/{step}"),
            Value::Null,
        ),
        ("DELETE", format!("/v1/threads/{thread}"), Value::Null),
    ]
}

#[tokio::test]
async fn another_projects_key_finds_none_of_a_projects_objects_of_any_type() {
    let app = spawn_app_with(Options {
        api_keys: vec![(OWNER, "owner"), (OTHER, "other")],
        ..Options::default()
    })
    .await;
    let owned = create_one_of_each(&app).await;

    for (method, path, body) in operations(&owned) {
        let (status, answer) = call(&app, method, &path, OTHER, body).await;
        assert_eq!(status, 404, "{method} {path} by another project: {answer}");
        assert_eq!(
            answer["error"]["type"], "invalid_request_error",
            "{method} {path}: {answer}"
        );
    }

    // Naming the owner's objects in a new request is refused, with the param.
    let references = [
        (
            "/v1/responses",
            json!({"model": "m", "input": "x", "previous_response_id": owned.response}),
            "previous_response_id",
        ),
        (
            "/v1/responses",
            json!({"model": "m", "input": "x", "conversation": owned.conversation}),
            "conversation",
        ),
        (
            "/v1/threads/runs",
            json!({"assistant_id": owned.assistant}),
            "assistant_id",
        ),
    ];
    for (path, body, param) in references {
        let (status, answer) = call(&app, "POST", path, OTHER, body).await;
        assert!(
            matches!(status, 400 | 404),
            "{path} naming the owner's {param}: {status} {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(
            answer["error"]["param"] == param
                || message.contains("not found")
                || message.contains("No "),
            "{path}: {answer}"
        );
    }

    // Lists show none of them.
    for path in ["/v1/chat/completions", "/v1/assistants"] {
        let (status, list) = call(&app, "GET", path, OTHER, Value::Null).await;
        assert_eq!(status, 200, "{path}: {list}");
        assert_eq!(
            list["data"],
            json!([]),
            "{path} lists another project's objects: {list}"
        );
    }

    // The owner still has every one, untouched.
    for (method, path, _) in operations(&owned)
        .into_iter()
        .filter(|(method, path, _)| *method == "GET" && !path.ends_with("/cancel"))
    {
        let (status, answer) = call(&app, method, &path, OWNER, Value::Null).await;
        assert_eq!(status, 200, "the owner's {path}: {answer}");
        if let Some(metadata) = answer.get("metadata") {
            assert_ne!(
                metadata["taken"], "yes",
                "{path} was changed by another project"
            );
        }
    }
    let (_, messages) = call(
        &app,
        "GET",
        &format!("/v1/threads/{}/messages", owned.thread),
        OWNER,
        Value::Null,
    )
    .await;
    assert_eq!(
        messages["data"].as_array().unwrap().len(),
        2,
        "the user's message and the run's answer only"
    );
    let (_, items) = call(
        &app,
        "GET",
        &format!("/v1/conversations/{}/items", owned.conversation),
        OWNER,
        Value::Null,
    )
    .await;
    assert_eq!(items["data"].as_array().unwrap().len(), 1);
}
