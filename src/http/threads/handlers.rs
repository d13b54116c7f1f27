//! HTTP handlers of threads: create (with first messages), retrieve, modify,
//! delete. Another project's thread is a 404.

use axum::extract::{Path, Request, State};
use axum::Json;
use serde_json::{json, Value};

use crate::access::project::Project;
use crate::coordination::Work;
use crate::engine::state::AppState;
use crate::http::extract::{read_body, JsonBody};
use crate::store::assistants::Kind;
use crate::wire::assistants::shared::{check_id, DeletedObject};
use crate::wire::error::{ApiResult, ErrorEnvelope};
use crate::wire::json::parse_json;

use super::lookup::existing_thread;
use crate::wire::threads::build::{thread_not_found, thread_with_messages};
use crate::wire::threads::object::ThreadObject;
use crate::wire::threads::request::{parse_modify, parse_thread};

/// Creates a thread, optionally with messages and metadata (an empty body is `{}`).
#[utoipa::path(
    post, path = "/v1/threads", tag = "Assistants",
    request_body(content = Object, description = "`{messages?, metadata?, tool_resources?}`"),
    responses(
        (status = 200, description = "The new thread", body = ThreadObject),
        (status = 400, description = "Invalid body; tool resources are refused", body = ErrorEnvelope),
    )
)]
pub async fn create_thread(
    State(state): State<AppState>,
    project: Project,
    body: Request,
) -> ApiResult<Json<ThreadObject>> {
    let bytes = read_body(body, &state).await?;
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        parse_json(&bytes)?
    };
    let (thread, messages) = thread_with_messages(parse_thread(&body, "")?);
    state
        .store
        .assistants
        .create_thread(&project.0, &thread, &messages)
        .await?;
    Ok(Json(thread))
}

/// Retrieves a thread.
#[utoipa::path(
    get, path = "/v1/threads/{thread_id}", tag = "Assistants",
    params(("thread_id" = String, Path, description = "`thread_…`")),
    responses(
        (status = 200, description = "The thread", body = ThreadObject),
        (status = 400, description = "Not a thread id", body = ErrorEnvelope),
        (status = 404, description = "No such thread in this project", body = ErrorEnvelope),
    )
)]
pub async fn get_thread(
    State(state): State<AppState>,
    project: Project,
    Path(thread_id): Path<String>,
) -> ApiResult<Json<ThreadObject>> {
    let thread = existing_thread(&state, &project.0, &thread_id).await?;
    Ok(Json(thread.as_retrieved()))
}

/// Modifies a thread's metadata.
#[utoipa::path(
    post, path = "/v1/threads/{thread_id}", tag = "Assistants",
    params(("thread_id" = String, Path, description = "`thread_…`")),
    request_body(content = Object, description = "`{metadata?, tool_resources?}`"),
    responses(
        (status = 200, description = "The modified thread", body = ThreadObject),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
        (status = 404, description = "No such thread in this project", body = ErrorEnvelope),
    )
)]
pub async fn modify_thread(
    State(state): State<AppState>,
    project: Project,
    Path(thread_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<ThreadObject>> {
    check_id("thread_id", &thread_id, "thread")?;
    let metadata = parse_modify(&body, true)?;
    let mut thread = existing_thread(&state, &project.0, &thread_id).await?;
    if let Some(metadata) = metadata {
        thread.metadata = metadata;
        state
            .store
            .assistants
            .update(&project.0, Kind::Thread, &thread_id, None, &thread)
            .await?;
    }
    Ok(Json(thread))
}

/// Deletes a thread with its messages, runs and steps.
#[utoipa::path(
    delete, path = "/v1/threads/{thread_id}", tag = "Assistants",
    params(("thread_id" = String, Path, description = "`thread_…`")),
    responses(
        (status = 200, description = "Deleted", body = DeletedObject),
        (status = 400, description = "Not a thread id", body = ErrorEnvelope),
        (status = 404, description = "No such thread in this project", body = ErrorEnvelope),
    )
)]
pub async fn delete_thread(
    State(state): State<AppState>,
    project: Project,
    Path(thread_id): Path<String>,
) -> ApiResult<Json<DeletedObject>> {
    check_id("thread_id", &thread_id, "thread")?;
    if let Some(run_id) = state
        .store
        .assistants
        .active_run(&project.0, &thread_id)
        .await?
    {
        // A running run stops first; its task finds the rows gone and ends quietly.
        state.coordinator.request_cancel(Work::Run(&run_id)).await;
    }
    if !state
        .store
        .assistants
        .delete_thread(&project.0, &thread_id)
        .await?
    {
        return Err(thread_not_found(&thread_id));
    }
    Ok(Json(DeletedObject::new(thread_id, "thread.deleted")))
}
