//! The Models API: `GET /v1/models` and `GET /v1/models/{model}` list what the
//! backends serve — routed names and their aliases, the backends' configured
//! names, and for catch-all backends the models they report themselves. A
//! model's `created` is when this process first listed models (the backends
//! do not say when theirs were made; OpenAI's is a real time, never 0).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::project::Project;
use crate::engine::state::AppState;
use crate::wire::error::{ApiError, ApiResult, ErrorEnvelope};

/// A model (`object: "model"`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Model {
    pub id: String,
    pub object: String,
    pub created: i64,
    pub owned_by: String,
}

/// `{"object":"list","data":[…]}` (not paginated, as OpenAI's).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelList {
    pub object: String,
    pub data: Vec<Model>,
}

/// The Models routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/models", get(list_models)).route(
        "/v1/models/{model}",
        get(retrieve_model).delete(delete_model),
    )
}

/// The `created` of every model (see the module doc).
fn created() -> i64 {
    static FIRST_LISTED: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *FIRST_LISTED.get_or_init(crate::wire::ids::unix_now)
}

/// Every model served, first backend first, without duplicates.
async fn served_models(state: &AppState) -> Vec<Model> {
    let created = created();
    let mut models: Vec<Model> = Vec::new();
    // Routed names and their aliases first: they are what clients are meant to use.
    for route in state.backends.routes() {
        for name in std::iter::once(&route.model)
            .chain(&route.aliases)
            .filter(|name| *name != "*")
        {
            if !models.iter().any(|model| &model.id == name) {
                models.push(Model {
                    id: name.clone(),
                    object: "model".into(),
                    created,
                    owned_by: "portico".into(),
                });
            }
        }
    }
    for entry in state.backends.entries() {
        let mut names: Vec<String> = entry
            .models
            .iter()
            .filter(|name| *name != "*")
            .cloned()
            .collect();
        if entry.is_catch_all() {
            match entry.backend.list_models().await {
                Ok(reported) => names.extend(reported),
                Err(error) => {
                    tracing::warn!(backend = entry.backend.name(), %error, "could not list the backend's models")
                }
            }
        }
        for name in names {
            if !models.iter().any(|model| model.id == name) {
                models.push(Model {
                    id: name,
                    object: "model".into(),
                    created,
                    owned_by: entry.backend.name().to_owned(),
                });
            }
        }
    }
    models
}

/// Lists the models the backends serve.
#[utoipa::path(
    get, path = "/v1/models", tag = "Models",
    responses((status = 200, description = "The models", body = ModelList), (status = 401, description = "Missing or wrong API key", body = ErrorEnvelope))
)]
pub async fn list_models(State(state): State<AppState>, _project: Project) -> Json<ModelList> {
    Json(ModelList {
        object: "list".into(),
        data: served_models(&state).await,
    })
}

/// Retrieves one model.
#[utoipa::path(
    get, path = "/v1/models/{model}", tag = "Models",
    params(("model" = String, Path, description = "The model's id")),
    responses((status = 200, description = "The model", body = Model), (status = 404, description = "No backend serves it", body = ErrorEnvelope))
)]
pub async fn retrieve_model(
    State(state): State<AppState>,
    _project: Project,
    Path(model): Path<String>,
) -> ApiResult<Json<Model>> {
    served_models(&state)
        .await
        .into_iter()
        .find(|served| served.id == model)
        .map(Json)
        .ok_or_else(|| unknown_model(&model))
}

/// The Models API's own wording for an unknown model (the generation endpoints
/// use [`ApiError::model_not_found`]'s).
fn unknown_model(model: &str) -> ApiError {
    ApiError::NotFound {
        message: format!("The model '{model}' does not exist"),
        param: Some("model".to_owned()),
        code: Some("model_not_found".to_owned()),
    }
}

/// Deletes a fine-tuned model. Portico serves no fine-tuned models of its own:
/// unknown models are OpenAI's 404, the backends' models cannot be deleted here.
#[utoipa::path(
    delete, path = "/v1/models/{model}", tag = "Models",
    params(("model" = String, Path, description = "The model's id")),
    responses((status = 403, description = "A backend's model: not deletable through Portico", body = ErrorEnvelope), (status = 404, description = "No such model", body = ErrorEnvelope))
)]
pub async fn delete_model(
    State(state): State<AppState>,
    _project: Project,
    Path(model): Path<String>,
) -> ApiResult<Json<Model>> {
    if served_models(&state)
        .await
        .iter()
        .any(|served| served.id == model)
    {
        return Err(ApiError::Forbidden {
            message: format!("You cannot delete the model '{model}': it is served by a backend, not owned by this project."),
        });
    }
    Err(unknown_model(&model))
}
