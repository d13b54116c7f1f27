//! The Conversations API: a conversation is a stored, growing list of items
//! that responses can read from and append to (`conversation` on
//! `POST /v1/responses`). Routes: create, retrieve, update and delete a
//! conversation; add, list, retrieve and delete its items. Wire types live in
//! `wire::conversations`, handlers in `handlers`, storage in
//! `store::conversations`.

pub mod handlers;

use axum::routing::{get, post};
use axum::Router;

use crate::engine::state::AppState;

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
