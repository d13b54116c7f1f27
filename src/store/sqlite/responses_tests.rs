//! A chain continued from the recently finished responses gives what the
//! database gives: same items, same order, same answer for deleted, other
//! projects' and unstored responses.

use serde_json::{json, Value};

use super::*;
use crate::store::sqlite::database::Database;
use crate::wire::ids::new_id;
use crate::wire::responses::defaults::blank_response;
use crate::wire::responses::object::{ContentPart, ItemStatus, OutputItem};

fn user_item(text: &str) -> Value {
    json!({"id": new_id("msg_"), "type": "message", "role": "user",
           "content": [{"type": "input_text", "text": text}]})
}

fn answer(text: &str) -> OutputItem {
    OutputItem::Message {
        id: new_id("msg_"),
        status: ItemStatus::Completed,
        content: vec![ContentPart::OutputText {
            annotations: Vec::new(),
            logprobs: Vec::new(),
            text: text.to_owned(),
        }],
        phase: None,
        role: "assistant".into(),
    }
}

/// A fresh database file as the server opens it.
async fn database() -> (tempfile::TempDir, Database) {
    let directory = tempfile::tempdir().unwrap();
    let db = crate::store::sqlite::database::open(&directory.path().join("db.sqlite"))
        .await
        .unwrap();
    (directory, db)
}

/// A finished turn stored the way the engine stores it: `streamed` ones are
/// inserted in progress and finished, the others inserted once finished.
async fn turn(db: &Database, previous: Option<&str>, streamed: bool, store: bool) -> String {
    let mut response = blank_response(new_id("resp_"), "mock".into(), 1_795_246_795);
    response.previous_response_id = previous.map(str::to_owned);
    response.store = store;
    let input = [user_item("Hello?"), user_item("Anyone?")];
    if streamed {
        insert_response(db, "p", &response, &input, None)
            .await
            .unwrap();
    }
    response.status = ResponseStatus::Completed;
    response.output = vec![answer("Hi."), answer("Here.")];
    if streamed {
        let turn = Turn {
            project: "p",
            input_items: &input,
        };
        finish_response(db, &response, turn).await.unwrap();
    } else {
        insert_finished_response(db, "p", &response, &input)
            .await
            .unwrap();
    }
    response.id
}

#[tokio::test]
async fn a_remembered_chain_is_the_chain_the_database_holds() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("db.sqlite");
    let db = crate::store::sqlite::database::open(&path).await.unwrap();
    let first = turn(&db, None, false, true).await;
    let second = turn(&db, Some(&first), true, true).await;
    let third = turn(&db, Some(&second), false, true).await;
    let remembered = continuation(&db, "p", &third).await.unwrap();
    // The same file opened afresh: nothing remembered, all read from SQLite.
    let fresh = crate::store::sqlite::database::open(&path).await.unwrap();
    assert_eq!(fresh.recent.chain("p", &third).await, None);
    let read = continuation(&fresh, "p", &third).await.unwrap();
    assert_eq!(remembered, read);
    let Continuation::Chain(items) = read else {
        panic!("a chain: {read:?}")
    };
    assert_eq!(items.len(), 12, "three turns of two inputs and two outputs");
    assert_eq!(
        db.recent.chain("p", &third).await.map(|chain| chain.len()),
        Some(12),
        "the first database answered from memory"
    );
}

#[tokio::test]
async fn deleted_unstored_and_other_projects_responses_are_not_continued_from_memory() {
    let (_directory, db) = database().await;
    let first = turn(&db, None, false, true).await;
    let second = turn(&db, Some(&first), true, true).await;
    assert!(delete_response(&db, "p", &first).await.unwrap());
    assert_eq!(db.recent.chain("p", &second).await, None);
    let after_delete = continuation(&db, "p", &second).await.unwrap();
    let Continuation::Chain(items) = after_delete else {
        panic!("the second turn is still there: {after_delete:?}")
    };
    assert_eq!(items.len(), 4, "only the second turn's own items");
    assert_eq!(
        continuation(&db, "p", &first).await.unwrap(),
        Continuation::NotFound
    );
    assert_eq!(
        continuation(&db, "other", &second).await.unwrap(),
        Continuation::NotFound
    );
    let unstored = turn(&db, None, true, false).await;
    assert_eq!(db.recent.chain("p", &unstored).await, None);
}

#[tokio::test]
async fn a_response_deleted_while_it_ran_is_not_continued_once_it_finishes() {
    let (_directory, db) = database().await;
    let mut response = blank_response(new_id("resp_"), "mock".into(), 1_795_246_795);
    let input = [user_item("Hello?")];
    insert_response(&db, "p", &response, &input, None)
        .await
        .unwrap();
    assert!(delete_response(&db, "p", &response.id).await.unwrap());
    // It fails before any output: the finish's statements match no row and
    // commit without error.
    response.status = ResponseStatus::Failed;
    let turn = Turn {
        project: "p",
        input_items: &input,
    };
    finish_response(&db, &response, turn).await.unwrap();
    assert_eq!(
        continuation(&db, "p", &response.id).await.unwrap(),
        Continuation::NotFound
    );
}

#[tokio::test]
async fn a_response_whose_request_left_during_its_insert_is_discarded_after_it() {
    use futures::FutureExt;
    let (_directory, db) = database().await;
    let response = blank_response(new_id("resp_"), "mock".into(), 1_795_246_795);
    let input = [user_item("Hello?")];
    // Polled once (queued to the writer), then its request is dropped.
    let mut insert = insert_response(&db, "p", &response, &input, None).boxed();
    assert!((&mut insert).now_or_never().is_none());
    drop(insert);
    discard_unstarted(&db, &response.id).await.unwrap();
    assert!(get_response(&db, "p", &response.id)
        .await
        .unwrap()
        .is_none());
    let items: i64 = sqlx::query_scalar("SELECT count(*) FROM response_items")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(items, 0, "its items went with it");
}

#[tokio::test]
async fn a_cancel_that_comes_after_the_response_ended_changes_nothing() {
    let (_directory, db) = database().await;
    let ended = turn(&db, None, true, true).await;
    let running = blank_response(new_id("resp_"), "mock".into(), 1_795_246_795);
    insert_response(&db, "p", &running, &[user_item("Hi")], None)
        .await
        .unwrap();
    for (id, cancelled) in [(&ended, false), (&running.id, true)] {
        let mut response = blank_response(id.clone(), "mock".into(), 1_795_246_795);
        response.status = ResponseStatus::Cancelled;
        assert_eq!(
            crate::store::sqlite::background::cancel_if_unfinished(&db, &response)
                .await
                .unwrap(),
            cancelled
        );
    }
    let status = |id: String| {
        let db = db.clone();
        async move { get_response(&db, "p", &id).await.unwrap().unwrap().status }
    };
    assert_eq!(status(ended.clone()).await, "completed");
    assert_eq!(status(running.id.clone()).await, "cancelled");
    let Continuation::Chain(items) = continuation(&db, "p", &ended).await.unwrap() else {
        panic!("the ended response is still continued")
    };
    assert_eq!(items.len(), 4);
}
