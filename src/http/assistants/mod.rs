//! The Assistants API v2's assistants: create, list, retrieve, modify and
//! delete (`/v1/assistants`). An assistant is stored settings — model,
//! instructions, function tools, sampling, response format — that runs read.
//! `wire::assistants::shared` holds what every Assistants resource (threads, runs) uses too:
//! cursor lists, id checks, and the refusal of hosted tools. The
//! `OpenAI-Beta: assistants=v2` header is accepted and not required.

pub mod handlers;

use axum::routing::{get, post};
use axum::Router;

use crate::engine::state::AppState;

/// The assistants routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/assistants",
            post(handlers::create_assistant).get(handlers::list_assistants),
        )
        .route(
            "/v1/assistants/{assistant_id}",
            get(handlers::get_assistant)
                .post(handlers::modify_assistant)
                .delete(handlers::delete_assistant),
        )
}
