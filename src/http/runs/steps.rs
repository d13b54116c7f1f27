//! HTTP handlers of run steps: list (newest first by default) and retrieve.
//! Steps are written by the run engine as they happen.

use axum::extract::{Path, State};
use axum::Json;

use crate::access::project::Project;
use crate::engine::state::AppState;
use crate::store::assistants::Kind;
use crate::wire::assistants::shared::{check_id, list_query, CursorList};
use crate::wire::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::wire::query::QueryParams;

use super::handlers::existing_run;
use crate::wire::runs::object::RunStepObject;

/// Lists a run's steps.
#[utoipa::path(
    get, path = "/v1/threads/{thread_id}/runs/{run_id}/steps", tag = "Assistants",
    params(
        ("thread_id" = String, Path, description = "`thread_…`"),
        ("run_id" = String, Path, description = "`run_…`"),
        ("limit" = Option<u32>, Query, description = "1 to 100, default 20"),
        ("order" = Option<String>, Query, description = "`asc` or `desc` (default)"),
        ("after" = Option<String>, Query, description = "A step id to list after"),
        ("before" = Option<String>, Query, description = "A step id to list before"),
        ("include[]" = Option<Vec<String>>, Query, description = "Accepted (no file search results exist)"),
    ),
    responses(
        (status = 200, description = "A page of steps", body = CursorList<RunStepObject>),
        (status = 400, description = "Invalid query", body = ErrorEnvelope),
        (status = 404, description = "No such thread or run", body = ErrorEnvelope),
    )
)]
pub async fn list_run_steps(
    State(state): State<AppState>,
    project: Project,
    Path((thread_id, run_id)): Path<(String, String)>,
    query: QueryParams,
) -> ApiResult<Json<CursorList<RunStepObject>>> {
    let list = list_query(&query)?;
    existing_run(&state, &project.0, &thread_id, &run_id).await?;
    let page = state
        .store
        .assistants
        .list(
            &project.0,
            Kind::Step,
            Some(&thread_id),
            Some(&run_id),
            &list,
        )
        .await?;
    Ok(Json(page.into()))
}

/// Retrieves a run step.
#[utoipa::path(
    get, path = "/v1/threads/{thread_id}/runs/{run_id}/steps/{step_id}", tag = "Assistants",
    params(
        ("thread_id" = String, Path, description = "`thread_…`"),
        ("run_id" = String, Path, description = "`run_…`"),
        ("step_id" = String, Path, description = "`step_…`"),
        ("include[]" = Option<Vec<String>>, Query, description = "Accepted (no file search results exist)"),
    ),
    responses(
        (status = 200, description = "The step", body = RunStepObject),
        (status = 400, description = "Not a thread, run or step id", body = ErrorEnvelope),
        (status = 404, description = "No such thread, run or step", body = ErrorEnvelope),
    )
)]
pub async fn get_run_step(
    State(state): State<AppState>,
    project: Project,
    Path((thread_id, run_id, step_id)): Path<(String, String, String)>,
) -> ApiResult<Json<RunStepObject>> {
    existing_run(&state, &project.0, &thread_id, &run_id).await?;
    check_id("step_id", &step_id, "step")?;
    let step: Option<RunStepObject> = state
        .store
        .assistants
        .get(&project.0, Kind::Step, &step_id, Some(&thread_id))
        .await?;
    step.filter(|step| step.run_id == run_id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("No run step found with id '{step_id}'.")))
}
