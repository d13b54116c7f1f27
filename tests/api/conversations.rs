//! The Conversations API: the conversation's life cycle, its items (added,
//! listed both ways with cursors, retrieved, deleted), OpenAI's validation
//! errors, project isolation, and the store functions the Responses engine uses.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Options, TestApp};

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

async fn create(app: &TestApp, body: Value) -> String {
    let (status, created) = app.post("/v1/conversations", body).await;
    assert_eq!(status, 200, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

fn texts(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["content"][0]["text"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_error(answer: &(u16, Value), status: u16, param: Value, code: Value) {
    assert_eq!(answer.0, status, "{}", answer.1);
    let error = &answer.1["error"];
    assert_eq!(error["type"], "invalid_request_error", "{}", answer.1);
    assert_eq!(error["param"], param, "{}", answer.1);
    assert_eq!(error["code"], code, "{}", answer.1);
    assert!(error["message"].is_string());
}

#[tokio::test]
async fn a_conversation_is_created_retrieved_updated_and_deleted() {
    let app = spawn_app().await;
    let (status, created) = app
        .post(
            "/v1/conversations",
            json!({"metadata": {"topic": "test"}, "items": [user("tell me a joke")]}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("conv_"));
    let keys: Vec<&String> = created.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "object", "created_at", "metadata"]);
    assert_eq!(created["object"], "conversation");
    assert!(created["created_at"].is_i64());
    assert_eq!(created["metadata"], json!({"topic": "test"}));

    let path = format!("/v1/conversations/{id}");
    assert_eq!(app.get(&path).await, (200, created.clone()));
    let (status, updated) = app
        .post(&path, json!({"metadata": {"purpose": "conversation-test"}}))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["metadata"], json!({"purpose": "conversation-test"}));
    assert_eq!(updated["created_at"], created["created_at"]);
    assert_eq!(app.get(&path).await.1, updated);

    let deleted = app.delete(&path).await;
    assert_eq!(
        deleted,
        (
            200,
            json!({"id": id, "object": "conversation.deleted", "deleted": true})
        )
    );
    let missing = app.get(&path).await;
    assert_error(&missing, 404, Value::Null, Value::Null);
    assert_eq!(
        missing.1["error"]["message"],
        format!("Conversation with id '{id}' not found.")
    );
    assert_eq!(app.delete(&path).await.0, 404);
    assert_eq!(app.get(&format!("{path}/items")).await.0, 404);
    assert_eq!(
        app.post(&format!("{path}/items"), json!({"items": [user("x")]}))
            .await
            .0,
        404
    );
    assert_eq!(app.post(&path, json!({"metadata": {}})).await.0, 404);
}

#[tokio::test]
async fn an_empty_body_creates_a_conversation_without_metadata() {
    let app = spawn_app().await;
    let answer = app
        .client
        .post(app.url("/v1/conversations"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["metadata"], json!({}));
    let id = create(&app, json!({})).await;
    let (_, page) = app.get(&format!("/v1/conversations/{id}/items")).await;
    assert_eq!(
        page,
        json!({"object": "list", "data": [], "first_id": null, "has_more": false, "last_id": null})
    );
}

#[tokio::test]
async fn items_are_added_normalized_and_listed_newest_first() {
    let app = spawn_app().await;
    let id = create(&app, json!({"items": [user("first item")]})).await;
    let items_path = format!("/v1/conversations/{id}/items");
    let (status, added) = app
        .post(
            &format!("{items_path}?include[]=message.input_image.image_url"),
            json!({"items": [
                {"role": "user", "content": "second item"},
                {"type": "function_call_output", "call_id": "call_1", "output": "42"}
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    let message = &added["data"][0];
    let keys: Vec<&String> = message.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "type", "status", "content", "role"]);
    assert!(message["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(message["status"], "completed");
    assert_eq!(
        message["content"],
        json!([{"type": "input_text", "text": "second item"}])
    );
    assert_eq!(added["data"][1]["status"], "completed");
    assert_eq!(added["first_id"], message["id"]);
    assert_eq!(added["last_id"], added["data"][1]["id"]);
    assert_eq!(added["has_more"], false);

    let (status, page) = app.get(&items_path).await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["function_call_output", "message", "message"]);
    assert_eq!(page["data"][2]["content"][0]["text"], "first item");
    assert_eq!(page["first_id"], page["data"][0]["id"]);
    assert_eq!(page["last_id"], page["data"][2]["id"]);

    let message_id = message["id"].as_str().unwrap();
    let item_path = format!("{items_path}/{message_id}");
    assert_eq!(app.get(&item_path).await, (200, message.clone()));
    let (status, conversation) = app.delete(&item_path).await;
    assert_eq!(status, 200);
    assert_eq!(conversation["object"], "conversation");
    assert_eq!(conversation["id"], id.as_str());
    let missing = app.get(&item_path).await;
    assert_error(&missing, 404, Value::Null, Value::Null);
    assert_eq!(
        missing.1["error"]["message"],
        format!("Item with id '{message_id}' not found in conversation.")
    );
    assert_eq!(app.delete(&item_path).await.0, 404);
    assert_eq!(
        app.get(&items_path).await.1["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn items_page_with_after_and_limit_in_both_orders() {
    let app = spawn_app().await;
    let items: Vec<Value> = (1..=5).map(|n| user(&format!("m{n}"))).collect();
    let id = create(&app, json!({"items": items})).await;
    let items_path = format!("/v1/conversations/{id}/items");

    let (_, first) = app.get(&format!("{items_path}?limit=2")).await;
    assert_eq!(texts(&first), ["m5", "m4"]);
    assert_eq!(first["has_more"], true);
    let after = first["last_id"].as_str().unwrap();
    let (_, second) = app
        .get(&format!("{items_path}?limit=2&after={after}"))
        .await;
    assert_eq!(texts(&second), ["m3", "m2"]);
    assert_eq!(second["has_more"], true);
    let after = second["last_id"].as_str().unwrap();
    let (_, third) = app
        .get(&format!("{items_path}?limit=2&after={after}"))
        .await;
    assert_eq!(texts(&third), ["m1"]);
    assert_eq!(third["has_more"], false);

    let (_, ascending) = app.get(&format!("{items_path}?order=asc&limit=3")).await;
    assert_eq!(texts(&ascending), ["m1", "m2", "m3"]);
    assert_eq!(ascending["has_more"], true);
    let after = ascending["last_id"].as_str().unwrap();
    let (_, rest) = app
        .get(&format!("{items_path}?order=asc&limit=3&after={after}"))
        .await;
    assert_eq!(texts(&rest), ["m4", "m5"]);
    assert_eq!(rest["has_more"], false);

    let (_, all) = app.get(&format!("{items_path}?limit=100")).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 5);
    assert_eq!(all["has_more"], false);
    let (_, unknown) = app.get(&format!("{items_path}?after=msg_unknown")).await;
    assert_eq!(texts(&unknown), Vec::<String>::new());
}

/// Sends `method path` (with `C` in the path standing for `conversation`) as
/// `key`, returning the status and body.
async fn call(
    app: &TestApp,
    key: Option<&str>,
    (method, path, body): (&str, &str, Value),
    conversation: &str,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app
        .client
        .request(method, app.url(&path.replace('C', conversation)));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if !body.is_null() {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn bad_bodies_and_queries_are_400s_naming_the_param() {
    let app = spawn_app().await;
    let id = create(&app, json!({})).await;
    let many: Vec<Value> = (0..21).map(|n| user(&format!("{n}"))).collect();
    let null = Value::Null;
    #[rustfmt::skip]
    let cases = [
        ("POST", "/v1/conversations", json!({"foo": 1}), "foo", "unknown_parameter"),
        ("POST", "/v1/conversations", json!({"items": many}), "items", "array_above_max_length"),
        ("POST", "/v1/conversations", json!({"items": "hi"}), "items", "invalid_type"),
        ("POST", "/v1/conversations", json!({"metadata": {"k": 1}}), "metadata.k", "invalid_type"),
        ("POST", "/v1/conversations", json!({"items": [{"role": "user"}]}), "items[0].content", "missing_required_parameter"),
        ("POST", "/v1/conversations", json!({"items": [{"id": "msg_nope"}]}), "items[0]", "item_not_found"),
        ("POST", "/v1/conversations/C", json!({}), "metadata", "missing_required_parameter"),
        ("POST", "/v1/conversations/C", json!({"metadata": {}, "name": "x"}), "name", "unknown_parameter"),
        ("POST", "/v1/conversations/C/items", json!({}), "items", "missing_required_parameter"),
        ("POST", "/v1/conversations/C/items", json!({"items": []}), "items", "empty_array"),
        ("POST", "/v1/conversations/C/items", json!({"items": many}), "items", "array_above_max_length"),
        ("POST", "/v1/conversations/C/items", json!({"items": [{"role": "robot", "content": "x"}]}), "items[0].role", "invalid_value"),
        ("GET", "/v1/conversations/C/items?limit=0", null.clone(), "limit", "integer_below_min_value"),
        ("GET", "/v1/conversations/C/items?limit=101", null.clone(), "limit", "integer_above_max_value"),
        ("GET", "/v1/conversations/C/items?order=up", null.clone(), "order", "invalid_value"),
        ("GET", "/v1/conversations/C/items?include[]=bogus", null.clone(), "include", "invalid_value"),
        ("GET", "/v1/conversations/abc", null.clone(), "conversation_id", "invalid_value"),
        ("DELETE", "/v1/conversations/abc/items/msg_1", null, "conversation_id", "invalid_value"),
    ];
    for (method, path, body, param, code) in cases {
        let answer = call(&app, None, (method, path, body), &id).await;
        assert_error(&answer, 400, json!(param), json!(code));
    }
    let path = format!("/v1/conversations/{id}");
    assert_eq!(app.get(&path).await.0, 200, "nothing above touched it");
    assert_eq!(
        texts(&app.get(&format!("{path}/items")).await.1),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn item_references_resolve_to_stored_items() {
    let app = spawn_app().await;
    let (_, response) = app
        .post("/v1/responses", json!({"model": "m", "input": "Hi"}))
        .await;
    let output_id = response["output"][0]["id"].as_str().unwrap();
    let id = create(
        &app,
        json!({"items": [{"type": "item_reference", "id": output_id}]}),
    )
    .await;
    let (_, page) = app.get(&format!("/v1/conversations/{id}/items")).await;
    assert_eq!(page["data"][0], response["output"][0]);
}

#[tokio::test]
async fn another_projects_conversation_is_a_404_for_every_operation() {
    let app = spawn_app_with(Options {
        api_keys: vec![("sk-a", "alpha"), ("sk-b", "beta")],
        ..Options::default()
    })
    .await;
    let body = json!({"items": [user("secret")]});
    let (_, created) = call(&app, Some("sk-a"), ("POST", "/v1/conversations", body), "").await;
    let id = created["id"].as_str().unwrap();
    let (_, items) = call(
        &app,
        Some("sk-a"),
        ("GET", "/v1/conversations/C/items", Value::Null),
        id,
    )
    .await;
    let item = format!(
        "/v1/conversations/C/items/{}",
        items["first_id"].as_str().unwrap()
    );
    #[rustfmt::skip]
    let operations = [
        ("GET", "/v1/conversations/C", Value::Null),
        ("POST", "/v1/conversations/C", json!({"metadata": {}})),
        ("GET", "/v1/conversations/C/items", Value::Null),
        ("POST", "/v1/conversations/C/items", json!({"items": [user("x")]})),
        ("GET", item.as_str(), Value::Null),
        ("DELETE", item.as_str(), Value::Null),
        ("DELETE", "/v1/conversations/C", Value::Null),
    ];
    for operation in operations {
        let described = format!("{} {}", operation.0, operation.1);
        let (status, body) = call(&app, Some("sk-b"), operation, id).await;
        assert_eq!(status, 404, "{described}: {body}");
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }
    let (status, _) = call(&app, Some("sk-a"), ("GET", item.as_str(), Value::Null), id).await;
    assert_eq!(status, 200, "still there for its owner");
    let (status, _) = call(
        &app,
        Some("sk-a"),
        ("DELETE", "/v1/conversations/C", Value::Null),
        id,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_conversation_store_reads_appends_and_locks() {
    use portico::store::conversations::{LockOutcome, StoredConversation};
    let directory = tempfile::tempdir().unwrap();
    let store = portico::store::factory::open(&crate::helpers::store_location(directory.path()))
        .await
        .unwrap();
    let conversations = &*store.conversations;
    let conversation = StoredConversation {
        id: "conv_1".into(),
        created_at: 1,
        metadata: Default::default(),
    };
    conversations
        .insert_conversation("alpha", &conversation, &[json!({"id": "msg_1"})])
        .await
        .unwrap();
    let items = [json!({"id": "msg_2"}), json!({"id": "msg_3"})];
    assert!(conversations
        .append_items("alpha", "conv_1", &items)
        .await
        .unwrap());
    assert!(!conversations
        .append_items("beta", "conv_1", &items)
        .await
        .unwrap());
    let all = conversations
        .conversation_items("alpha", "conv_1")
        .await
        .unwrap()
        .unwrap();
    let ids: Vec<&str> = all
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["msg_1", "msg_2", "msg_3"]);
    assert_eq!(
        conversations
            .conversation_items("beta", "conv_1")
            .await
            .unwrap(),
        None
    );

    let lock = |response: &'static str| conversations.try_lock("alpha", "conv_1", response);
    assert_eq!(lock("resp_a").await.unwrap(), LockOutcome::Locked);
    assert_eq!(
        lock("resp_a").await.unwrap(),
        LockOutcome::Locked,
        "re-entrant"
    );
    assert_eq!(lock("resp_b").await.unwrap(), LockOutcome::Busy);
    assert_eq!(
        conversations
            .try_lock("beta", "conv_1", "resp_b")
            .await
            .unwrap(),
        LockOutcome::NotFound
    );
    conversations
        .unlock("alpha", "conv_1", "resp_b")
        .await
        .unwrap();
    assert_eq!(
        lock("resp_b").await.unwrap(),
        LockOutcome::Busy,
        "only the holder unlocks"
    );
    conversations
        .unlock("alpha", "conv_1", "resp_a")
        .await
        .unwrap();
    assert_eq!(lock("resp_b").await.unwrap(), LockOutcome::Locked);
    assert_eq!(conversations.clear_all_locks().await.unwrap(), 1);
    assert_eq!(lock("resp_c").await.unwrap(), LockOutcome::Locked);
    assert!(conversations
        .delete_conversation("alpha", "conv_1")
        .await
        .unwrap());
    assert_eq!(lock("resp_d").await.unwrap(), LockOutcome::NotFound);
    assert_eq!(
        conversations
            .conversation_items("alpha", "conv_1")
            .await
            .unwrap(),
        None
    );
    assert!(
        conversations
            .find_item("alpha", "msg_2")
            .await
            .unwrap()
            .is_some(),
        "items are kept"
    );
}

#[tokio::test]
async fn a_client_that_leaves_a_stream_before_its_first_event_does_not_leave_the_conversation_locked(
) {
    use std::time::{Duration, Instant};
    let app = spawn_app().await;
    let conversation = create(&app, json!({})).await;
    // The backend waits 3 s before its first token; the client leaves first.
    app.script(json!([{"content": "late", "delay_ms": 3000}]))
        .await;
    let turn = json!({"model": "m", "input": "x", "conversation": conversation});
    let mut streamed = turn.clone();
    streamed["stream"] = json!(true);
    let started = Instant::now();
    let left = tokio::time::timeout(
        Duration::from_millis(300),
        app.client
            .post(app.url("/v1/responses"))
            .json(&streamed)
            .send(),
    )
    .await;
    assert!(left.is_err(), "the client left before the first event");
    // The next turn continues the conversation once the lock is released,
    // well before the abandoned one could have ended.
    loop {
        let (status, answer) = app.post("/v1/responses", turn.clone()).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 400, "{answer}");
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "still locked: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_non_streamed_turn_whose_client_left_still_completes_into_its_conversation() {
    use std::time::{Duration, Instant};
    let app = spawn_app().await;
    let conversation = create(&app, json!({})).await;
    // A slow answer, asked in one piece (the client does not stream).
    app.script(json!([{"content": "finished anyway", "chunk_delay_ms": 200}]))
        .await;
    let turn = json!({"model": "m", "input": "x", "conversation": conversation});
    let left = tokio::time::timeout(
        Duration::from_millis(100),
        app.client.post(app.url("/v1/responses")).json(&turn).send(),
    )
    .await;
    assert!(left.is_err(), "the client left before the answer");
    let items = format!("/v1/conversations/{conversation}/items?order=asc");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, page) = app.get(&items).await;
        assert_eq!(status, 200, "{page}");
        let texts: Vec<&str> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|item| item["content"][0]["text"].as_str())
            .collect();
        if texts.contains(&"finished anyway") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the turn never completed: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_turn_that_fails_mid_stream_releases_its_conversation_for_the_next() {
    let app = spawn_app().await;
    let conversation = create(&app, json!({})).await;
    app.script(json!([
        {"content": "one two three four", "fail_after_events": 2},
        {"content": "second turn"}
    ]))
    .await;
    let (status, _, events) = app
        .post_stream(
            "/v1/responses",
            json!({"model": "m", "input": "x", "conversation": conversation, "stream": true}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        events.last().and_then(|(name, _)| name.as_deref()),
        Some("response.failed"),
        "{events:?}"
    );
    // Nothing was appended (the turn failed) and the lock is gone: the next
    // turn is accepted at once.
    let (status, answer) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "y", "conversation": conversation}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["output"][0]["content"][0]["text"], "second turn");
}
