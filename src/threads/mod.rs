//! The Assistants API v2's threads and their messages: create (with first
//! messages), retrieve, modify and delete a thread; create, list (with a
//! `run_id` filter), retrieve, modify and delete its messages. Runs read a
//! thread's messages as their chat history and write the assistant's messages
//! into it (`runs`). Storage is `store::threads`.

pub mod handlers;
pub mod messages;
pub mod object;
pub mod request;

use axum::routing::{get, post};
use axum::Router;
use serde_json::{Map, Value};

use crate::assistants::shared::check_id;
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, unix_now};
use crate::state::AppState;
use crate::store::assistants::{self as objects, Kind};

use object::{MessageObject, ThreadObject};
use request::{NewMessage, NewThread};

/// The thread and message routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/threads", post(handlers::create_thread))
        .route(
            "/v1/threads/{thread_id}",
            get(handlers::get_thread)
                .post(handlers::modify_thread)
                .delete(handlers::delete_thread),
        )
        .route(
            "/v1/threads/{thread_id}/messages",
            get(messages::list_messages).post(messages::create_message),
        )
        .route(
            "/v1/threads/{thread_id}/messages/{message_id}",
            get(messages::get_message)
                .post(messages::modify_message)
                .delete(messages::delete_message),
        )
}

/// OpenAI's 404 for an unknown thread.
pub fn thread_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("No thread found with id '{id}'."))
}

/// The thread, or OpenAI's 400 (bad prefix) / 404.
pub async fn existing_thread(
    state: &AppState,
    project: &str,
    thread_id: &str,
) -> ApiResult<ThreadObject> {
    check_id("thread_id", thread_id, "thread")?;
    objects::get(&state.db, project, Kind::Thread, thread_id, None)
        .await?
        .ok_or_else(|| thread_not_found(thread_id))
}

/// A new, empty thread object.
pub fn new_thread(metadata: Map<String, Value>) -> ThreadObject {
    ThreadObject {
        id: new_id("thread_"),
        object: "thread".to_owned(),
        created_at: unix_now(),
        metadata,
        tool_resources: Value::Object(Map::new()),
    }
}

/// A message the client adds to a thread (complete from the start).
pub fn client_message(thread_id: &str, message: NewMessage) -> MessageObject {
    MessageObject {
        id: new_id("msg_"),
        object: "thread.message".to_owned(),
        created_at: unix_now(),
        assistant_id: None,
        thread_id: thread_id.to_owned(),
        run_id: None,
        status: "completed".to_owned(),
        incomplete_details: None,
        incomplete_at: None,
        completed_at: None,
        role: message.role,
        content: message.content,
        attachments: Vec::new(),
        metadata: message.metadata,
    }
}

/// A thread and its first messages, ready to store.
pub fn thread_with_messages(new: NewThread) -> (ThreadObject, Vec<MessageObject>) {
    let thread = new_thread(new.metadata);
    let messages = new
        .messages
        .into_iter()
        .map(|message| client_message(&thread.id, message))
        .collect();
    (thread, messages)
}

/// OpenAI's 400 when a thread already has an active run.
pub fn thread_busy(thread_id: &str, run_id: &str) -> ApiError {
    ApiError::invalid(
        format!("Thread {thread_id} already has an active run {run_id}."),
        None,
    )
}
