//! New thread and message objects as the API makes them, and OpenAI's errors
//! for a thread that is unknown or busy with a run.

use serde_json::{Map, Value};

use crate::wire::error::ApiError;
use crate::wire::ids::{new_id, unix_now};

use crate::wire::threads::object::{MessageObject, ThreadObject};
use crate::wire::threads::request::{NewMessage, NewThread};

/// OpenAI's 404 for an unknown thread.
pub fn thread_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("No thread found with id '{id}'."))
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
