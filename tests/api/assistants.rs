//! Assistants v2: the assistants resource (create, list, retrieve, modify,
//! delete), cursor pagination, the OpenAI-Beta header, and bad input.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

pub async fn create_assistant(app: &crate::helpers::TestApp, body: Value) -> Value {
    let (status, assistant) = app.post("/v1/assistants", body).await;
    assert_eq!(status, 200, "{assistant}");
    assistant
}

#[tokio::test]
async fn an_assistant_is_created_with_openais_shape_and_defaults() {
    let app = spawn_app().await;
    let answer = app
        .client
        .post(app.url("/v1/assistants"))
        .header("OpenAI-Beta", "assistants=v2")
        .json(&json!({
            "model": "gpt-4o", "name": "Math tutor", "instructions": "Be brief.",
            "tools": [{"type": "function", "function": {"name": "add", "description": "Adds"}}],
            "metadata": {"team": "a"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let assistant: Value = answer.json().await.unwrap();
    let keys: Vec<&str> = assistant
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
            "name",
            "description",
            "model",
            "instructions",
            "tools",
            "top_p",
            "temperature",
            "reasoning_effort",
            "tool_resources",
            "metadata",
            "response_format"
        ]
    );
    assert!(assistant["id"].as_str().unwrap().starts_with("asst_"));
    assert_eq!(assistant["object"], "assistant");
    assert_eq!(assistant["response_format"], "auto");
    assert_eq!(assistant["tool_resources"], json!({}));
    assert_eq!(
        assistant["tools"][0]["function"],
        json!({"name": "add", "description": "Adds", "parameters": {"type": "object", "properties": {}}, "strict": false})
    );
}

#[tokio::test]
async fn assistants_are_retrieved_modified_and_deleted() {
    let app = spawn_app().await;
    let assistant = create_assistant(&app, json!({"model": "m", "name": "a"})).await;
    let id = assistant["id"].as_str().unwrap();
    let (status, fetched) = app.get(&format!("/v1/assistants/{id}")).await;
    assert_eq!((status, &fetched), (200, &assistant));
    let (status, modified) = app
        .post(
            &format!("/v1/assistants/{id}"),
            json!({"instructions": "new", "metadata": {"k": "v"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(modified["instructions"], "new");
    assert_eq!(modified["name"], "a");
    assert_eq!(modified["metadata"], json!({"k": "v"}));
    let (status, deleted) = app.delete(&format!("/v1/assistants/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"id": id, "object": "assistant.deleted", "deleted": true})
    );
    let (status, missing) = app.get(&format!("/v1/assistants/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(
        missing["error"]["message"],
        format!("No assistant found with id '{id}'.")
    );
}

#[tokio::test]
async fn assistant_lists_paginate_with_after_before_limit_and_order() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for index in 0..5 {
        let assistant =
            create_assistant(&app, json!({"model": "m", "name": format!("a{index}")})).await;
        ids.push(assistant["id"].as_str().unwrap().to_owned());
    }
    let (status, page) = app.get("/v1/assistants?limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(page["object"], "list");
    assert_eq!(page["data"][0]["id"], ids[4]);
    assert_eq!(page["first_id"], ids[4]);
    assert_eq!(page["last_id"], ids[3]);
    assert_eq!(page["has_more"], true);
    let (_, next) = app
        .get(&format!("/v1/assistants?limit=2&after={}", ids[3]))
        .await;
    assert_eq!(next["first_id"], ids[2]);
    assert_eq!(next["last_id"], ids[1]);
    let (_, last) = app
        .get(&format!("/v1/assistants?limit=2&after={}", ids[1]))
        .await;
    assert_eq!(last["data"].as_array().unwrap().len(), 1);
    assert_eq!(last["has_more"], false);
    let (_, ascending) = app.get("/v1/assistants?order=asc&limit=3").await;
    assert_eq!(ascending["first_id"], ids[0]);
    let (_, before) = app
        .get(&format!(
            "/v1/assistants?order=asc&before={}&limit=2",
            ids[3]
        ))
        .await;
    assert_eq!(before["first_id"], ids[1]);
    assert_eq!(before["last_id"], ids[2]);
    let (_, empty) = app.get(&format!("/v1/assistants?after={}", ids[0])).await;
    assert_eq!(empty["data"], json!([]));
    assert_eq!(empty["first_id"], Value::Null);
}

#[tokio::test]
async fn bad_assistant_input_is_a_400_naming_the_param() {
    let app = spawn_app().await;
    for (body, param) in [
        (json!({}), "model"),
        (
            json!({"model": "m", "tools": [{"type": "code_interpreter"}]}),
            "tools[0].type",
        ),
        (
            json!({"model": "m", "tools": [{"type": "file_search"}]}),
            "tools[0].type",
        ),
        (
            json!({"model": "m", "tool_resources": {"code_interpreter": {"file_ids": ["file-1"]}}}),
            "tool_resources",
        ),
        (json!({"model": "m", "temperature": "hot"}), "temperature"),
        (json!({"model": "m", "metadata": {"k": 1}}), "metadata.k"),
        (json!({"model": "m", "unknown": 1}), "unknown"),
        (
            json!({"model": "m", "response_format": {"type": "yaml"}}),
            "response_format.type",
        ),
    ] {
        let (status, error) = app.post("/v1/assistants", body.clone()).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["error"]["param"], param, "{body}");
        assert_eq!(error["error"]["type"], "invalid_request_error");
    }
    let (status, error) = app.get("/v1/assistants/thread_abc").await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "Invalid 'assistant_id': 'thread_abc'. Expected an ID that begins with 'asst'."
    );
    assert_eq!(app.get("/v1/assistants?limit=0").await.0, 400);
    assert_eq!(app.get("/v1/assistants?order=up").await.0, 400);
    let (status, refused) = app
        .post(
            "/v1/assistants",
            json!({"model": "m", "tools": [{"type": "code_interpreter"}]}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("runs no tools"));
}
