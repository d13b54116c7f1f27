//! The Responses API: `POST /v1/responses`, `GET` / `DELETE /v1/responses/{id}`,
//! `GET /v1/responses/{id}/input_items`, `POST /v1/responses/{id}/cancel`,
//! `POST /v1/responses/input_tokens` and `POST /v1/responses/compact`. Wire
//! types and input normalization live in `wire::responses`, handlers in `handlers` and (background streams and cancel) `lifecycle`; the
//! work itself is the engine's.

pub mod compact;
pub mod handlers;
pub mod input_tokens;
pub mod lifecycle;
pub mod reply;

use axum::routing::{get, post};
use axum::Router;

use crate::engine::state::AppState;

/// The Responses routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/responses", post(handlers::create_response))
        .route(
            "/v1/responses/input_tokens",
            post(input_tokens::count_input_tokens),
        )
        .route("/v1/responses/compact", post(compact::compact_conversation))
        .route(
            "/v1/responses/{response_id}",
            get(handlers::get_response).delete(handlers::delete_response),
        )
        .route(
            "/v1/responses/{response_id}/input_items",
            get(handlers::list_input_items),
        )
        .route(
            "/v1/responses/{response_id}/cancel",
            post(lifecycle::cancel_response),
        )
}
