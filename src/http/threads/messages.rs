//! HTTP handlers of a thread's messages: create, list (newest first by
//! default, filterable by `run_id`), retrieve, modify (metadata) and delete.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;

use crate::access::project::Project;
use crate::engine::state::AppState;
use crate::http::extract::JsonBody;
use crate::store::assistants::{Kind, Placement};
use crate::wire::assistants::shared::{check_id, list_query, CursorList, DeletedObject};
use crate::wire::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::wire::query::QueryParams;

use super::lookup::existing_thread;
use crate::wire::threads::build::client_message;
use crate::wire::threads::object::MessageObject;
use crate::wire::threads::request::{parse_message, parse_modify};

/// OpenAI's 404 for an unknown message.
pub fn message_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("No message found with id '{id}'."))
}

async fn existing_message(
    state: &AppState,
    project: &str,
    thread_id: &str,
    message_id: &str,
) -> ApiResult<MessageObject> {
    existing_thread(state, project, thread_id).await?;
    check_id("message_id", message_id, "msg")?;
    state
        .store
        .assistants
        .get(project, Kind::Message, message_id, Some(thread_id))
        .await?
        .ok_or_else(|| message_not_found(message_id))
}

/// Adds a message to a thread (refused while a run is active on it).
#[utoipa::path(
    post, path = "/v1/threads/{thread_id}/messages", tag = "Assistants",
    params(("thread_id" = String, Path, description = "`thread_…`")),
    request_body(content = Object, description = "`{role, content, attachments?, metadata?}`"),
    responses(
        (status = 200, description = "The new message", body = MessageObject),
        (status = 400, description = "Invalid body, or a run is active on the thread", body = ErrorEnvelope),
        (status = 404, description = "No such thread in this project", body = ErrorEnvelope),
    )
)]
pub async fn create_message(
    State(state): State<AppState>,
    project: Project,
    Path(thread_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<MessageObject>> {
    check_id("thread_id", &thread_id, "thread")?;
    let new = parse_message(&body, "")?;
    existing_thread(&state, &project.0, &thread_id).await?;
    if let Some(run_id) = state
        .store
        .assistants
        .active_run(&project.0, &thread_id)
        .await?
    {
        return Err(ApiError::invalid(
            format!("Can't add messages to {thread_id} while a run {run_id} is active."),
            None,
        ));
    }
    let message = client_message(&thread_id, new);
    state
        .store
        .assistants
        .insert(
            &project.0,
            Kind::Message,
            &message.id,
            Placement {
                thread_id: Some(&thread_id),
                status: Some(&message.status),
                ..Placement::default()
            },
            &message,
        )
        .await?;
    Ok(Json(message))
}

/// Lists a thread's messages (newest first by default).
#[utoipa::path(
    get, path = "/v1/threads/{thread_id}/messages", tag = "Assistants",
    params(
        ("thread_id" = String, Path, description = "`thread_…`"),
        ("limit" = Option<u32>, Query, description = "1 to 100, default 20"),
        ("order" = Option<String>, Query, description = "`asc` or `desc` (default)"),
        ("after" = Option<String>, Query, description = "A message id to list after"),
        ("before" = Option<String>, Query, description = "A message id to list before"),
        ("run_id" = Option<String>, Query, description = "Only the messages this run wrote"),
    ),
    responses(
        (status = 200, description = "A page of messages", body = CursorList<MessageObject>),
        (status = 400, description = "Invalid query", body = ErrorEnvelope),
        (status = 404, description = "No such thread in this project", body = ErrorEnvelope),
    )
)]
pub async fn list_messages(
    State(state): State<AppState>,
    project: Project,
    Path(thread_id): Path<String>,
    query: QueryParams,
) -> ApiResult<Json<CursorList<MessageObject>>> {
    let list = list_query(&query)?;
    existing_thread(&state, &project.0, &thread_id).await?;
    let run_id = query.get("run_id");
    let page = state
        .store
        .assistants
        .list(&project.0, Kind::Message, Some(&thread_id), run_id, &list)
        .await?;
    Ok(Json(page.into()))
}

/// Retrieves a message.
#[utoipa::path(
    get, path = "/v1/threads/{thread_id}/messages/{message_id}", tag = "Assistants",
    params(
        ("thread_id" = String, Path, description = "`thread_…`"),
        ("message_id" = String, Path, description = "`msg_…`"),
    ),
    responses(
        (status = 200, description = "The message", body = MessageObject),
        (status = 400, description = "Not a thread or message id", body = ErrorEnvelope),
        (status = 404, description = "No such thread or message", body = ErrorEnvelope),
    )
)]
pub async fn get_message(
    State(state): State<AppState>,
    project: Project,
    Path((thread_id, message_id)): Path<(String, String)>,
) -> ApiResult<Json<MessageObject>> {
    Ok(Json(
        existing_message(&state, &project.0, &thread_id, &message_id).await?,
    ))
}

/// Modifies a message's metadata.
#[utoipa::path(
    post, path = "/v1/threads/{thread_id}/messages/{message_id}", tag = "Assistants",
    params(
        ("thread_id" = String, Path, description = "`thread_…`"),
        ("message_id" = String, Path, description = "`msg_…`"),
    ),
    request_body(content = Object, description = "`{metadata}`"),
    responses(
        (status = 200, description = "The modified message", body = MessageObject),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
        (status = 404, description = "No such thread or message", body = ErrorEnvelope),
    )
)]
pub async fn modify_message(
    State(state): State<AppState>,
    project: Project,
    Path((thread_id, message_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let metadata = parse_modify(&body, false)?;
    let mut message = existing_message(&state, &project.0, &thread_id, &message_id).await?;
    if let Some(metadata) = metadata {
        message.metadata = metadata;
        state
            .store
            .assistants
            .update(&project.0, Kind::Message, &message_id, None, &message)
            .await?;
    }
    // OpenAI's answer to a modify also carries the retired `file_ids` (empty).
    let mut answer = serde_json::to_value(&message)?;
    if let Some(fields) = answer.as_object_mut() {
        fields.insert("file_ids".to_owned(), Value::Array(Vec::new()));
    }
    Ok(Json(answer))
}

/// Deletes a message.
#[utoipa::path(
    delete, path = "/v1/threads/{thread_id}/messages/{message_id}", tag = "Assistants",
    params(
        ("thread_id" = String, Path, description = "`thread_…`"),
        ("message_id" = String, Path, description = "`msg_…`"),
    ),
    responses(
        (status = 200, description = "Deleted", body = DeletedObject),
        (status = 400, description = "Not a thread or message id", body = ErrorEnvelope),
        (status = 404, description = "No such thread or message", body = ErrorEnvelope),
    )
)]
pub async fn delete_message(
    State(state): State<AppState>,
    project: Project,
    Path((thread_id, message_id)): Path<(String, String)>,
) -> ApiResult<Json<DeletedObject>> {
    existing_message(&state, &project.0, &thread_id, &message_id).await?;
    state
        .store
        .assistants
        .delete_object(&project.0, Kind::Message, &message_id, Some(&thread_id))
        .await?;
    Ok(Json(DeletedObject::new(
        message_id,
        "thread.message.deleted",
    )))
}
