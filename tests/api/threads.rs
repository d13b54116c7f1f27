//! Assistants v2: threads (create with messages, retrieve, modify, delete)
//! and their messages (create, list, retrieve, modify, delete), projects kept
//! apart, and bad input.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Options};

pub async fn create_thread(app: &crate::helpers::TestApp, body: Value) -> String {
    let (status, thread) = app.post("/v1/threads", body).await;
    assert_eq!(status, 200, "{thread}");
    thread["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_thread_is_created_with_its_messages() {
    let app = spawn_app().await;
    let (status, thread) = app
        .post(
            "/v1/threads",
            json!({"messages": [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": [{"type": "text", "text": "Hi"}]}], "metadata": {"k": "v"}}),
        )
        .await;
    assert_eq!(status, 200);
    let keys: Vec<&str> = thread
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["id", "object", "created_at", "metadata", "tool_resources"]
    );
    assert_eq!(thread["object"], "thread");
    let id = thread["id"].as_str().unwrap();
    let (status, list) = app
        .get(&format!("/v1/threads/{id}/messages?order=asc"))
        .await;
    assert_eq!(status, 200);
    let first = &list["data"][0];
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "object",
            "created_at",
            "assistant_id",
            "thread_id",
            "run_id",
            "status",
            "incomplete_details",
            "incomplete_at",
            "completed_at",
            "role",
            "content",
            "attachments",
            "metadata"
        ]
    );
    assert_eq!(
        first["content"],
        json!([{"type": "text", "text": {"value": "Hello", "annotations": []}}])
    );
    assert_eq!(list["data"][1]["role"], "assistant");
    // An empty body is an empty thread.
    let answer = app
        .client
        .post(app.url("/v1/threads"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

#[tokio::test]
async fn threads_are_retrieved_modified_and_deleted_with_their_messages() {
    let app = spawn_app().await;
    let id = create_thread(
        &app,
        json!({"messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    let (status, modified) = app
        .post(
            &format!("/v1/threads/{id}"),
            json!({"metadata": {"a": "b"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(modified["metadata"], json!({"a": "b"}));
    assert_eq!(modified["tool_resources"], json!({}));
    // As OpenAI's, a retrieved thread shows the code interpreter's empty file list.
    let (_, retrieved) = app.get(&format!("/v1/threads/{id}")).await;
    assert_eq!(retrieved["metadata"], json!({"a": "b"}));
    assert_eq!(
        retrieved["tool_resources"],
        json!({"code_interpreter": {"file_ids": []}})
    );
    let (status, deleted) = app.delete(&format!("/v1/threads/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"id": id, "object": "thread.deleted", "deleted": true})
    );
    let (status, error) = app.get(&format!("/v1/threads/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(
        error["error"]["message"],
        format!("No thread found with id '{id}'.")
    );
    assert_eq!(app.get(&format!("/v1/threads/{id}/messages")).await.0, 404);
}

#[tokio::test]
async fn messages_are_created_listed_retrieved_modified_and_deleted() {
    let app = spawn_app().await;
    let thread = create_thread(&app, json!({})).await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        let (status, message) = app
            .post(
                &format!("/v1/threads/{thread}/messages"),
                json!({"role": "user", "content": text}),
            )
            .await;
        assert_eq!(status, 200, "{message}");
        assert_eq!(message["object"], "thread.message");
        assert_eq!(message["status"], "completed");
        assert_eq!(message["thread_id"], thread);
        ids.push(message["id"].as_str().unwrap().to_owned());
    }
    let (_, page) = app
        .get(&format!("/v1/threads/{thread}/messages?limit=2"))
        .await;
    assert_eq!(page["first_id"], ids[2]);
    assert_eq!(page["has_more"], true);
    let (_, rest) = app
        .get(&format!(
            "/v1/threads/{thread}/messages?limit=2&after={}",
            ids[1]
        ))
        .await;
    assert_eq!(rest["data"][0]["id"], ids[0]);
    assert_eq!(rest["has_more"], false);
    let path = format!("/v1/threads/{thread}/messages/{}", ids[0]);
    assert_eq!(app.get(&path).await.1["content"][0]["text"]["value"], "one");
    let (status, modified) = app.post(&path, json!({"metadata": {"x": "y"}})).await;
    assert_eq!(status, 200);
    assert_eq!(modified["metadata"], json!({"x": "y"}));
    let (status, deleted) = app.delete(&path).await;
    assert_eq!(status, 200);
    assert_eq!(deleted["object"], "thread.message.deleted");
    assert_eq!(app.get(&path).await.0, 404);
    let (_, filtered) = app
        .get(&format!("/v1/threads/{thread}/messages?run_id=run_none"))
        .await;
    assert_eq!(filtered["data"], json!([]));
}

#[tokio::test]
async fn bad_thread_and_message_input_is_a_400_naming_the_param() {
    let app = spawn_app().await;
    let thread = create_thread(&app, json!({})).await;
    for (path, body, param) in [
        (
            "/v1/threads".to_owned(),
            json!({"messages": [{"role": "system", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            "/v1/threads".to_owned(),
            json!({"messages": "x"}),
            "messages",
        ),
        (
            "/v1/threads".to_owned(),
            json!({"tool_resources": {"file_search": {"vector_store_ids": ["vs_1"]}}}),
            "tool_resources",
        ),
        (
            format!("/v1/threads/{thread}/messages"),
            json!({"role": "user"}),
            "content",
        ),
        (
            format!("/v1/threads/{thread}/messages"),
            json!({"role": "user", "content": []}),
            "content",
        ),
        (
            format!("/v1/threads/{thread}/messages"),
            json!({"role": "user", "content": "x", "attachments": [{"file_id": "f"}]}),
            "attachments",
        ),
        (
            format!("/v1/threads/{thread}/messages"),
            json!({"role": "user", "content": [{"type": "image_file", "image_file": {"file_id": "f"}}]}),
            "content[0].type",
        ),
        (
            format!("/v1/threads/{thread}/messages"),
            json!({"content": "x"}),
            "role",
        ),
    ] {
        let (status, error) = app.post(&path, body.clone()).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["error"]["param"], param, "{body}");
    }
    let (status, error) = app.get("/v1/threads/abc").await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "Invalid 'thread_id': 'abc'. Expected an ID that begins with 'thread'."
    );
    assert_eq!(error["error"]["param"], "thread_id");
    assert_eq!(
        app.get(&format!("/v1/threads/{thread}/messages/abc"))
            .await
            .0,
        400
    );
    assert_eq!(
        app.get(&format!("/v1/threads/{thread}/messages/msg_unknown"))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn another_projects_thread_is_not_found() {
    let app = spawn_app_with(Options {
        api_keys: vec![("sk-a", "a"), ("sk-b", "b")],
        ..Options::default()
    })
    .await;
    let answer = app
        .client
        .post(app.url("/v1/threads"))
        .bearer_auth("sk-a")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let thread: Value = answer.json().await.unwrap();
    let id = thread["id"].as_str().unwrap();
    let answer = app
        .client
        .get(app.url(&format!("/v1/threads/{id}")))
        .bearer_auth("sk-b")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    let answer = app
        .client
        .get(app.url(&format!("/v1/threads/{id}")))
        .bearer_auth("sk-a")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}
