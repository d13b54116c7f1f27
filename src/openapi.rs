//! The OpenAPI document, generated from the handlers' annotations, and the
//! Swagger UI that serves it at `/docs` (assets vendored: works offline; the
//! validator badge, which would call an outside host, is turned off).

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
        crate::conversations::handlers::create_conversation,
        crate::conversations::handlers::get_conversation,
        crate::conversations::handlers::update_conversation,
        crate::conversations::handlers::delete_conversation,
        crate::conversations::handlers::create_items,
        crate::conversations::handlers::list_items,
        crate::conversations::handlers::get_item,
        crate::conversations::handlers::delete_item,
        crate::chat::create_chat_completion,
        crate::embeddings::create_embedding,
        crate::models::list_models,
        crate::models::retrieve_model,
        crate::health::healthz,
        crate::health::readyz,
    ),
    components(schemas(crate::error::ErrorEnvelope, crate::error::ErrorBody)),
    tags(
        (name = "Responses", description = "Stored, chainable model responses"),
        (name = "Conversations", description = "Stored conversations whose items responses read and extend"),
        (name = "Chat", description = "Chat Completions, passed through to the backend"),
        (name = "Embeddings", description = "Embeddings, forwarded to the backend"),
        (name = "Models", description = "What the backends serve"),
        (name = "Health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

/// The document as pretty JSON (what `portico openapi` prints and `openapi/openapi.json` holds).
pub fn document_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_owned())
}

/// `/openapi.json` and `/docs`.
pub fn router() -> Router<AppState> {
    let config = utoipa_swagger_ui::Config::from("/openapi.json").validator_url("none");
    Router::new().merge(
        SwaggerUi::new("/docs")
            .url("/openapi.json", ApiDoc::openapi())
            .config(config),
    )
}
