//! The Assistants API v2's threads and their messages: create (with first
//! messages), retrieve, modify and delete a thread; create, list (with a
//! `run_id` filter), retrieve, modify and delete its messages. Runs read a
//! thread's messages as their chat history and write the assistant's messages
//! into it (`runs`). Storage is `store::threads`.

pub mod handlers;
pub mod lookup;
pub mod messages;

use axum::routing::{get, post};
use axum::Router;

use crate::engine::state::AppState;

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
