//! The OpenAPI document, generated from the handlers' annotations (and what
//! `enforced` writes into it: security, event streams, the constraints the
//! server enforces, links), and the Swagger UI that serves it at `/docs`
//! (assets vendored: works offline; the validator badge, which would call an
//! outside host, is turned off).

mod answers;
mod enforced;
mod links;
mod operations;
mod requests;

use axum::Router;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::engine::state::AppState;

/// Portico's API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Portico", description = "OpenAI-compatible stateful gateway (Responses, Chat Completions, Embeddings, Models) in front of local inference servers."),
    paths(
        crate::http::responses::handlers::create_response,
        crate::http::responses::handlers::get_response,
        crate::http::responses::handlers::delete_response,
        crate::http::responses::handlers::list_input_items,
        crate::http::responses::lifecycle::cancel_response,
        crate::http::responses::input_tokens::count_input_tokens,
        crate::http::responses::compact::compact_conversation,
        crate::http::conversations::handlers::create_conversation,
        crate::http::conversations::handlers::get_conversation,
        crate::http::conversations::handlers::update_conversation,
        crate::http::conversations::handlers::delete_conversation,
        crate::http::conversations::handlers::create_items,
        crate::http::conversations::handlers::list_items,
        crate::http::conversations::handlers::get_item,
        crate::http::conversations::handlers::delete_item,
        crate::http::assistants::handlers::create_assistant,
        crate::http::assistants::handlers::list_assistants,
        crate::http::assistants::handlers::get_assistant,
        crate::http::assistants::handlers::modify_assistant,
        crate::http::assistants::handlers::delete_assistant,
        crate::http::threads::handlers::create_thread,
        crate::http::threads::handlers::get_thread,
        crate::http::threads::handlers::modify_thread,
        crate::http::threads::handlers::delete_thread,
        crate::http::threads::messages::create_message,
        crate::http::threads::messages::list_messages,
        crate::http::threads::messages::get_message,
        crate::http::threads::messages::modify_message,
        crate::http::threads::messages::delete_message,
        crate::http::runs::handlers::create_run,
        crate::http::runs::handlers::create_thread_and_run,
        crate::http::runs::handlers::list_runs,
        crate::http::runs::handlers::get_run,
        crate::http::runs::handlers::modify_run,
        crate::http::runs::lifecycle::cancel_run,
        crate::http::runs::lifecycle::submit_tool_outputs,
        crate::http::runs::steps::list_run_steps,
        crate::http::runs::steps::get_run_step,
        crate::http::chat::create_chat_completion,
        crate::http::chat::stored_handlers::list_chat_completions,
        crate::http::chat::stored_handlers::get_chat_completion,
        crate::http::chat::stored_handlers::update_chat_completion,
        crate::http::chat::stored_handlers::delete_chat_completion,
        crate::http::chat::stored_handlers::list_chat_completion_messages,
        crate::http::embeddings::create_embedding,
        crate::http::models::list_models,
        crate::http::models::retrieve_model,
        crate::http::models::delete_model,
        crate::http::health::healthz,
        crate::http::health::readyz,
        crate::http::admin::create_key,
        crate::http::admin::list_keys,
        crate::http::admin::revoke_key,
        crate::http::kill::suspend_key,
        crate::http::kill::resume_key,
        crate::http::kill::get_project,
        crate::http::kill::suspend_project,
        crate::http::kill::resume_project,
        crate::http::metrics::metrics,
    ),
    components(schemas(crate::wire::error::ErrorEnvelope, crate::wire::error::ErrorBody)),
    tags(
        (name = "Responses", description = "Stored, chainable model responses"),
        (name = "Conversations", description = "Stored conversations whose items responses read and extend"),
        (name = "Assistants", description = "Assistants API v2: assistants, threads, messages, runs and run steps (function tools pass through; hosted tools are refused)"),
        (name = "Chat", description = "Chat Completions, passed through to the backend; stored ones (`store: true`) can be listed, retrieved, updated and deleted"),
        (name = "Embeddings", description = "Embeddings, forwarded to the backend"),
        (name = "Models", description = "What the backends serve"),
        (name = "Health", description = "Liveness and readiness"),
        (name = "Admin", description = "API keys, and the kill switch for projects and keys; behind `Authorization: Bearer <admin key>`, absent (404) without an admin key"),
        (name = "Metrics", description = "Prometheus metrics"),
    )
)]
pub struct ApiDoc;

/// The whole document: the handlers' annotations, with what `enforced` adds.
pub fn document() -> serde_json::Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    enforced::apply(&mut document);
    document
}

/// The document as pretty JSON (what `portico openapi` prints and `openapi/openapi.json` holds).
pub fn document_json() -> String {
    serde_json::to_string_pretty(&document()).unwrap_or_else(|_| "{}".to_owned())
}

/// `/openapi.json` (the document, built once) and `/docs`.
pub fn router() -> Router<AppState> {
    let config = utoipa_swagger_ui::Config::from("/openapi.json").validator_url("none");
    let document = axum::Json(document());
    Router::new()
        .route(
            "/openapi.json",
            axum::routing::get(move || std::future::ready(document.clone())),
        )
        .merge(SwaggerUi::new("/docs").config(config))
}
