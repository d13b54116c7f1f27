//! HTTP handlers of the assistants resource. Thin: validate, authenticate,
//! call the store, answer OpenAI's JSON. Another project's assistant is a 404.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{Map, Value};

use crate::access::project::Project;
use crate::engine::state::AppState;
use crate::http::extract::JsonBody;
use crate::store::assistants::{Kind, Placement};
use crate::wire::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::wire::ids::{new_id, unix_now};
use crate::wire::query::QueryParams;

use crate::wire::assistants::object::{normalize_tools, AssistantObject};
use crate::wire::assistants::request::{self, AssistantRequest};
use crate::wire::assistants::shared::{check_id, list_query, CursorList, DeletedObject};

/// OpenAI's 404 for an unknown assistant.
pub fn assistant_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("No assistant found with id '{id}'."))
}

/// The assistant, or OpenAI's 400 (bad prefix) / 404.
pub async fn existing_assistant(
    state: &AppState,
    project: &str,
    assistant_id: &str,
) -> ApiResult<AssistantObject> {
    check_id("assistant_id", assistant_id, "asst")?;
    state
        .store
        .assistants
        .get(project, Kind::Assistant, assistant_id, None)
        .await?
        .ok_or_else(|| assistant_not_found(assistant_id))
}

fn apply(assistant: &mut AssistantObject, request: AssistantRequest) {
    if let Some(model) = request.model {
        assistant.model = model;
    }
    if request.name.is_some() {
        assistant.name = request.name;
    }
    if request.description.is_some() {
        assistant.description = request.description;
    }
    if request.instructions.is_some() {
        assistant.instructions = request.instructions;
    }
    if request.reasoning_effort.is_some() {
        assistant.reasoning_effort = request.reasoning_effort;
    }
    if let Some(tools) = request.tools {
        assistant.tools = normalize_tools(&tools);
    }
    if let Some(metadata) = request.metadata {
        assistant.metadata = metadata;
    }
    if request.temperature.is_some() {
        assistant.temperature = request.temperature;
    }
    if request.top_p.is_some() {
        assistant.top_p = request.top_p;
    }
    if let Some(format) = request.response_format {
        assistant.response_format = format;
    }
}

/// Creates an assistant.
#[utoipa::path(
    post, path = "/v1/assistants", tag = "Assistants",
    request_body = AssistantRequest,
    responses(
        (status = 200, description = "The new assistant", body = AssistantObject),
        (status = 400, description = "Invalid body; hosted tools and tool resources are refused", body = ErrorEnvelope),
        (status = 404, description = "No backend serves the model", body = ErrorEnvelope),
    )
)]
pub async fn create_assistant(
    State(state): State<AppState>,
    project: Project,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<AssistantObject>> {
    let request = request::parse(body, true)?;
    let model = request.model.clone().unwrap_or_default();
    if state.backends.resolve(&model).is_none() {
        return Err(ApiError::model_not_found(&model));
    }
    let mut assistant = AssistantObject {
        id: new_id("asst_"),
        object: "assistant".to_owned(),
        created_at: unix_now(),
        name: None,
        description: None,
        model,
        instructions: None,
        tools: Vec::new(),
        top_p: Some(1.0),
        temperature: Some(1.0),
        reasoning_effort: None,
        tool_resources: Value::Object(Map::new()),
        metadata: Map::new(),
        response_format: Value::String("auto".to_owned()),
    };
    apply(&mut assistant, request);
    state
        .store
        .assistants
        .insert(
            &project.0,
            Kind::Assistant,
            &assistant.id,
            Placement::default(),
            &assistant,
        )
        .await?;
    Ok(Json(assistant))
}

/// Lists assistants (newest first by default).
#[utoipa::path(
    get, path = "/v1/assistants", tag = "Assistants",
    params(
        ("limit" = Option<u32>, Query, description = "1 to 100, default 20"),
        ("order" = Option<String>, Query, description = "`asc` or `desc` (default)"),
        ("after" = Option<String>, Query, description = "An assistant id to list after"),
        ("before" = Option<String>, Query, description = "An assistant id to list before"),
    ),
    responses(
        (status = 200, description = "A page of assistants", body = CursorList<AssistantObject>),
        (status = 400, description = "Invalid query", body = ErrorEnvelope),
    )
)]
pub async fn list_assistants(
    State(state): State<AppState>,
    project: Project,
    query: QueryParams,
) -> ApiResult<Json<CursorList<AssistantObject>>> {
    let query = list_query(&query)?;
    let page = state
        .store
        .assistants
        .list(&project.0, Kind::Assistant, None, None, &query)
        .await?;
    Ok(Json(page.into()))
}

/// Retrieves an assistant.
#[utoipa::path(
    get, path = "/v1/assistants/{assistant_id}", tag = "Assistants",
    params(("assistant_id" = String, Path, description = "`asst_…`")),
    responses(
        (status = 200, description = "The assistant", body = AssistantObject),
        (status = 400, description = "Not an assistant id", body = ErrorEnvelope),
        (status = 404, description = "No such assistant in this project", body = ErrorEnvelope),
    )
)]
pub async fn get_assistant(
    State(state): State<AppState>,
    project: Project,
    Path(assistant_id): Path<String>,
) -> ApiResult<Json<AssistantObject>> {
    Ok(Json(
        existing_assistant(&state, &project.0, &assistant_id).await?,
    ))
}

/// Modifies an assistant (only the fields sent change).
#[utoipa::path(
    post, path = "/v1/assistants/{assistant_id}", tag = "Assistants",
    params(("assistant_id" = String, Path, description = "`asst_…`")),
    request_body = AssistantRequest,
    responses(
        (status = 200, description = "The modified assistant", body = AssistantObject),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
        (status = 404, description = "No such assistant in this project", body = ErrorEnvelope),
    )
)]
pub async fn modify_assistant(
    State(state): State<AppState>,
    project: Project,
    Path(assistant_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<AssistantObject>> {
    check_id("assistant_id", &assistant_id, "asst")?;
    let request = request::parse(body, false)?;
    if let Some(model) = &request.model {
        if state.backends.resolve(model).is_none() {
            return Err(ApiError::model_not_found(model));
        }
    }
    let mut assistant = existing_assistant(&state, &project.0, &assistant_id).await?;
    apply(&mut assistant, request);
    state
        .store
        .assistants
        .update(&project.0, Kind::Assistant, &assistant_id, None, &assistant)
        .await?;
    Ok(Json(assistant))
}

/// Deletes an assistant.
#[utoipa::path(
    delete, path = "/v1/assistants/{assistant_id}", tag = "Assistants",
    params(("assistant_id" = String, Path, description = "`asst_…`")),
    responses(
        (status = 200, description = "Deleted", body = DeletedObject),
        (status = 400, description = "Not an assistant id", body = ErrorEnvelope),
        (status = 404, description = "No such assistant in this project", body = ErrorEnvelope),
    )
)]
pub async fn delete_assistant(
    State(state): State<AppState>,
    project: Project,
    Path(assistant_id): Path<String>,
) -> ApiResult<Json<DeletedObject>> {
    check_id("assistant_id", &assistant_id, "asst")?;
    if !state
        .store
        .assistants
        .delete_object(&project.0, Kind::Assistant, &assistant_id, None)
        .await?
    {
        return Err(assistant_not_found(&assistant_id));
    }
    Ok(Json(DeletedObject::new(assistant_id, "assistant.deleted")))
}
