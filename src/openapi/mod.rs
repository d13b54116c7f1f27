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

use crate::state::AppState;

/// Portico's API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Portico", description = "OpenAI-compatible stateful gateway (Responses, Chat Completions, Embeddings, Models) in front of local inference servers."),
    paths(
        crate::responses::handlers::create_response,
        crate::responses::handlers::get_response,
        crate::responses::handlers::delete_response,
        crate::responses::handlers::list_input_items,
        crate::responses::lifecycle::cancel_response,
        crate::responses::input_tokens::count_input_tokens,
        crate::responses::compact::compact_conversation,
        crate::conversations::handlers::create_conversation,
        crate::conversations::handlers::get_conversation,
        crate::conversations::handlers::update_conversation,
        crate::conversations::handlers::delete_conversation,
        crate::conversations::handlers::create_items,
        crate::conversations::handlers::list_items,
        crate::conversations::handlers::get_item,
        crate::conversations::handlers::delete_item,
        crate::assistants::handlers::create_assistant,
        crate::assistants::handlers::list_assistants,
        crate::assistants::handlers::get_assistant,
        crate::assistants::handlers::modify_assistant,
        crate::assistants::handlers::delete_assistant,
        crate::threads::handlers::create_thread,
        crate::threads::handlers::get_thread,
        crate::threads::handlers::modify_thread,
        crate::threads::handlers::delete_thread,
        crate::threads::messages::create_message,
        crate::threads::messages::list_messages,
        crate::threads::messages::get_message,
        crate::threads::messages::modify_message,
        crate::threads::messages::delete_message,
        crate::runs::handlers::create_run,
        crate::runs::handlers::create_thread_and_run,
        crate::runs::handlers::list_runs,
        crate::runs::handlers::get_run,
        crate::runs::handlers::modify_run,
        crate::runs::lifecycle::cancel_run,
        crate::runs::lifecycle::submit_tool_outputs,
        crate::runs::steps::list_run_steps,
        crate::runs::steps::get_run_step,
        crate::chat::create_chat_completion,
        crate::chat::stored_handlers::list_chat_completions,
        crate::chat::stored_handlers::get_chat_completion,
        crate::chat::stored_handlers::update_chat_completion,
        crate::chat::stored_handlers::delete_chat_completion,
        crate::chat::stored_handlers::list_chat_completion_messages,
        crate::embeddings::create_embedding,
        crate::models::list_models,
        crate::models::retrieve_model,
        crate::models::delete_model,
        crate::health::healthz,
        crate::health::readyz,
        crate::access::admin::create_key,
        crate::access::admin::list_keys,
        crate::access::admin::revoke_key,
        crate::access::kill::suspend_key,
        crate::access::kill::resume_key,
        crate::access::kill::get_project,
        crate::access::kill::suspend_project,
        crate::access::kill::resume_project,
        crate::metrics::route::metrics,
    ),
    components(schemas(crate::error::ErrorEnvelope, crate::error::ErrorBody)),
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
