//! Stored chat completions (`store: true`): retrieve, list with filters and
//! pages, update metadata, delete, list messages; streamed answers are stored
//! before `[DONE]`; every completion belongs to its API key's project.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Options, TestApp};

fn stored_request(metadata: Value) -> Value {
    json!({"model": "m", "store": true, "metadata": metadata,
           "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]})
}

async fn create(app: &TestApp, metadata: Value) -> String {
    app.script(json!({"content": "Hello!"})).await;
    let (status, answer) = app
        .post("/v1/chat/completions", stored_request(metadata))
        .await;
    assert_eq!(status, 200, "{answer}");
    answer["id"].as_str().unwrap().to_owned()
}

fn ids(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_stored_completion_is_retrieved_updated_and_deleted() {
    let app = spawn_app().await;
    let id = create(&app, json!({"topic": "greeting"})).await;
    let (status, stored) = app.get(&format!("/v1/chat/completions/{id}")).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["object"], "chat.completion");
    assert_eq!(stored["id"], id.as_str());
    assert_eq!(stored["metadata"], json!({"topic": "greeting"}));
    assert_eq!(
        stored["choices"][0]["message"],
        json!({"content": "Hello!", "role": "assistant", "tool_calls": null, "function_call": null})
    );
    assert_eq!(stored["temperature"], 1.0);
    assert!(stored["request_id"].is_string() && stored["seed"].is_i64());

    let path = format!("/v1/chat/completions/{id}");
    let (status, updated) = app
        .post(&path, json!({"metadata": {"topic": "farewell"}}))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["metadata"], json!({"topic": "farewell"}));
    let (status, refused) = app
        .post(&path, json!({"metadata": {"topic": "x"}, "model": "other"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["param"], "model");

    let (status, deleted) = app.delete(&path).await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"object": "chat.completion.deleted", "id": id, "deleted": true})
    );
    for (status, missing) in [app.get(&path).await, app.delete(&path).await] {
        assert_eq!(status, 404);
        assert_eq!(
            missing["error"],
            json!({"message": format!("Completion {id} not found"), "type": "invalid_request_error",
                   "param": "completion_id", "code": "not_found"})
        );
    }
}

#[tokio::test]
async fn completions_not_asked_to_be_stored_are_not_found() {
    let app = spawn_app().await;
    app.script(json!({"content": "Hello!"})).await;
    let (_, answer) = app
        .post(
            "/v1/chat/completions",
            json!({"model": "m", "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    let id = answer["id"].as_str().unwrap();
    let (status, _) = app.get(&format!("/v1/chat/completions/{id}")).await;
    assert_eq!(status, 404);
    let (status, list) = app.get("/v1/chat/completions").await;
    assert_eq!(status, 200);
    assert_eq!(
        list,
        json!({"object": "list", "data": [], "first_id": null, "last_id": null, "has_more": false})
    );
}

#[tokio::test]
async fn lists_come_newest_first_in_pages_and_filter_by_metadata_and_model() {
    let app = spawn_app().await;
    let first = create(&app, json!({"n": "1"})).await;
    let second = create(&app, json!({"n": "2", "pick": "yes"})).await;
    let third = create(&app, json!({"n": "3"})).await;
    let (_, list) = app.get("/v1/chat/completions").await;
    assert_eq!(ids(&list), [&third, &second, &first]);
    assert_eq!(list["first_id"], third.as_str());
    let (_, page) = app.get("/v1/chat/completions?limit=2&order=asc").await;
    assert_eq!(ids(&page), [&first, &second]);
    assert_eq!(page["has_more"], true);
    let (_, rest) = app
        .get(&format!(
            "/v1/chat/completions?limit=2&order=asc&after={second}"
        ))
        .await;
    assert_eq!(ids(&rest), [&third]);
    assert_eq!(rest["has_more"], false);
    let (_, picked) = app.get("/v1/chat/completions?metadata[pick]=yes").await;
    assert_eq!(ids(&picked), [&second]);
    let (_, by_model) = app.get("/v1/chat/completions?model=m&limit=1").await;
    assert_eq!(ids(&by_model), [&third]);
    let (_, other_model) = app.get("/v1/chat/completions?model=other").await;
    assert!(ids(&other_model).is_empty());
    let (status, bad) = app.get("/v1/chat/completions?order=sideways").await;
    assert_eq!(status, 400);
    assert_eq!(bad["error"]["param"], "order");
}

#[tokio::test]
async fn a_completions_messages_are_listed_with_ids_in_pages() {
    let app = spawn_app().await;
    let id = create(&app, json!({})).await;
    let path = format!("/v1/chat/completions/{id}/messages");
    let (status, all) = app.get(&path).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(
        all["data"][0],
        json!({"id": format!("{id}-0"), "role": "system", "content": "Be brief.", "content_parts": null, "name": null})
    );
    assert_eq!(ids(&all), [format!("{id}-0"), format!("{id}-1")]);
    let (_, first) = app.get(&format!("{path}?limit=1")).await;
    assert_eq!(first["has_more"], true);
    let (_, rest) = app.get(&format!("{path}?after={id}-0")).await;
    assert_eq!(ids(&rest), [format!("{id}-1")]);
    let (_, newest) = app.get(&format!("{path}?order=desc&limit=1")).await;
    assert_eq!(ids(&newest), [format!("{id}-1")]);
    let (status, missing) = app.get("/v1/chat/completions/chatcmpl-nope/messages").await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["param"], "completion_id");
}

#[tokio::test]
async fn a_streamed_completion_is_stored_by_the_time_done_arrives() {
    let app = spawn_app().await;
    app.script(
        json!({"tool_calls": [{"id": "call_7", "name": "lookup", "arguments": "{\"q\":1}"}]}),
    )
    .await;
    let mut request = stored_request(json!({"via": "stream"}));
    request["stream"] = json!(true);
    let (status, _, events) = app.post_stream("/v1/chat/completions", request).await;
    assert_eq!(status, 200);
    assert_eq!(events.last().unwrap().1, json!("[DONE]"));
    let id = events[0].1["id"].as_str().unwrap();
    let (status, stored) = app.get(&format!("/v1/chat/completions/{id}")).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["metadata"], json!({"via": "stream"}));
    let message = &stored["choices"][0]["message"];
    assert!(message["content"].is_null());
    assert_eq!(
        message["tool_calls"],
        json!([{"type": "function", "function": {"name": "lookup", "arguments": "{\"q\":1}"}, "id": "call_7"}])
    );
    assert_eq!(stored["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn invalid_store_fields_are_refused_before_the_backend_is_asked() {
    let app = spawn_app().await;
    let mut request = stored_request(json!({"k": 5}));
    let (status, answer) = app.post("/v1/chat/completions", request.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["param"], "metadata.k");
    request["metadata"] = json!({});
    request["store"] = json!("yes");
    let (status, answer) = app.post("/v1/chat/completions", request).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["param"], "store");
    assert!(app.backend_requests().await.is_empty());
}

#[tokio::test]
async fn another_projects_completion_is_not_found_nor_listed() {
    let app = spawn_app_with(Options {
        api_keys: vec![("sk-a", "alpha"), ("sk-b", "beta")],
        ..Options::default()
    })
    .await;
    app.script(json!({"content": "secret"})).await;
    let created: Value = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth("sk-a")
        .json(&stored_request(json!({})))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let send = |key: &'static str, method: reqwest::Method, path: String| {
        let request = app.client.request(method, app.url(&path)).bearer_auth(key);
        async move {
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            (status, answer.json::<Value>().await.unwrap())
        }
    };
    let path = format!("/v1/chat/completions/{id}");
    assert_eq!(
        send("sk-b", reqwest::Method::GET, path.clone()).await.0,
        404
    );
    assert_eq!(
        send("sk-b", reqwest::Method::DELETE, path.clone()).await.0,
        404
    );
    let messages = format!("{path}/messages");
    assert_eq!(send("sk-b", reqwest::Method::GET, messages).await.0, 404);
    let (_, list) = send("sk-b", reqwest::Method::GET, "/v1/chat/completions".into()).await;
    assert_eq!(list["data"], json!([]));
    let (_, list) = send("sk-a", reqwest::Method::GET, "/v1/chat/completions".into()).await;
    assert_eq!(list["data"][0]["id"], id);
}

#[tokio::test]
async fn stored_completions_get_portico_ids_when_the_backend_repeats_its_own() {
    let app = spawn_app().await;
    let mut seen = Vec::new();
    for stream in [false, true] {
        // Ollama draws its ids from fewer than a thousand numbers.
        let answer = json!({"id": "chatcmpl-123", "choices": [{"message": {"content": "Hi"}}]});
        let chunk =
            json!({"id": "chatcmpl-123", "choices": [{"index": 0, "delta": {"content": "Hi"}}]});
        let script = if stream {
            json!({"raw_chunks": [chunk]})
        } else {
            json!({"raw_body": answer})
        };
        app.script(script).await;
        let mut request = stored_request(json!({}));
        request["stream"] = json!(stream);
        let id = if stream {
            let (_, _, events) = app.post_stream("/v1/chat/completions", request).await;
            assert!(events[..events.len() - 1]
                .iter()
                .all(|(_, chunk)| chunk["id"] == events[0].1["id"]));
            events[0].1["id"].as_str().unwrap().to_owned()
        } else {
            let (status, answer) = app.post("/v1/chat/completions", request).await;
            assert_eq!(status, 200, "{answer}");
            answer["id"].as_str().unwrap().to_owned()
        };
        assert!(id.starts_with("chatcmpl-") && id != "chatcmpl-123");
        let (status, _) = app.get(&format!("/v1/chat/completions/{id}")).await;
        assert_eq!(status, 200);
        seen.push(id);
    }
    assert_ne!(seen[0], seen[1]);
}
