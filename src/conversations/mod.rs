//! The Conversations API: a conversation is a stored, growing list of items
//! that responses can read from and append to (`conversation` on
//! `POST /v1/responses`). Routes: create, retrieve, update and delete a
//! conversation; add, list, retrieve and delete its items. Wire types live in
//! `object` and `request`, handlers in `handlers`, storage in
//! `store::conversations`.

pub mod handlers;
pub mod object;
pub mod request;

use axum::routing::{get, post};
use axum::Router;

use crate::error::ApiError;
use crate::state::AppState;

/// The Conversations routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/conversations", post(handlers::create_conversation))
        .route(
            "/v1/conversations/{conversation_id}",
            get(handlers::get_conversation)
                .post(handlers::update_conversation)
                .delete(handlers::delete_conversation),
        )
        .route(
            "/v1/conversations/{conversation_id}/items",
            get(handlers::list_items).post(handlers::create_items),
        )
        .route(
            "/v1/conversations/{conversation_id}/items/{item_id}",
            get(handlers::get_item).delete(handlers::delete_item),
        )
}

/// OpenAI's 404 for a conversation that does not exist in the caller's project
/// (or was deleted). The Responses engine answers it for an unknown
/// `conversation` too.
pub fn conversation_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Conversation with id '{id}' not found."))
}

/// OpenAI's 400 when a response is already running on the conversation
/// (`openai-agents` retries on this code).
pub fn conversation_locked() -> ApiError {
    ApiError::invalid_with_code(
        "Another process is currently operating on this conversation. Please retry in a few seconds.",
        Some("conversation".to_owned()),
        "conversation_locked",
    )
}

/// OpenAI's 404 for an item that is not in the conversation.
pub fn item_not_found(item_id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Item with id '{item_id}' not found in conversation."
    ))
}
