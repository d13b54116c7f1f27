//! The kill switch: suspending a project or a key refuses its new requests
//! with 403 and stops, at once, everything it has running — foreground
//! responses and open chat or embedding requests through their in-flight
//! registrations, background responses and Assistants runs through their own
//! cancel paths (the same as `POST …/cancel`). The suspension is stored, so
//! it outlasts a restart; resuming lifts it.

use axum::extract::{Path, State};
use axum::Json;
use futures::future::join_all;

use crate::access::project::Project;
use crate::engine::state::AppState;
use crate::inflight::Target;
use crate::wire::admin::key_not_found;
use crate::wire::admin::{Cancelled, KeyObject, ProjectObject};
use crate::wire::error::{ApiResult, ErrorEnvelope};

/// Suspends `target` (of `project`) and stops its running work.
pub async fn suspend(state: &AppState, target: &Target, project: &str) -> ApiResult<Cancelled> {
    // Announced first: from here on nothing new of the target starts.
    let (requests, foreground) = state.coordinator.publish_suspension(target);
    state
        .store
        .access
        .suspend(target.kind(), target.name(), crate::wire::ids::unix_now())
        .await?;
    let key_id = match target {
        Target::Key(key_id) => Some(key_id.as_str()),
        Target::Project(_) => None,
    };
    // A key's background responses and runs, whichever process created
    // them (their jobs name the key).
    let background = state
        .store
        .responses
        .unfinished_background(project, key_id)
        .await?;
    let runs = state
        .store
        .assistants
        .unfinished_runs(project, key_id)
        .await?;
    let responses = background.into_iter().map(|response_id| {
        crate::http::responses::lifecycle::cancel_response(
            State(state.clone()),
            Project(project.to_owned()),
            Path(response_id),
        )
    });
    let runs = runs.into_iter().map(|(run_id, thread_id)| {
        crate::http::runs::lifecycle::cancel_run(
            State(state.clone()),
            Project(project.to_owned()),
            Path((thread_id, run_id)),
        )
    });
    let (responses, runs) = futures::join!(join_all(responses), join_all(runs));
    let stopped = |results: &[crate::wire::error::ApiResult<axum::response::Response>]| {
        results.iter().filter(|result| result.is_ok()).count()
    };
    let cancelled = Cancelled {
        requests,
        responses: foreground + stopped(&responses),
        runs: stopped(&runs),
    };
    tracing::warn!(
        target = target.name(),
        kind = target.kind(),
        ?cancelled,
        "suspended"
    );
    Ok(cancelled)
}

/// Lifts a suspension.
pub async fn resume(state: &AppState, target: &Target) -> ApiResult<()> {
    state
        .store
        .access
        .resume(target.kind(), target.name())
        .await?;
    state.coordinator.publish_resume(target);
    tracing::info!(target = target.name(), kind = target.kind(), "resumed");
    Ok(())
}

async fn project_object(state: &AppState, name: String) -> ApiResult<ProjectObject> {
    let suspended = state
        .coordinator
        .is_suspended(&Target::Project(name.clone()));
    Ok(ProjectObject {
        object: "project",
        daily_token_budget: state.access.limits.budget(&name),
        tokens_used_today: state.access.limits.used_today(&name).await?,
        name,
        suspended,
        cancelled: None,
    })
}

/// A project's suspension and today's tokens against its budget.
#[utoipa::path(
    get, path = "/admin/projects/{project}", tag = "Admin",
    params(("project" = String, Path, description = "The project's name")),
    responses(
        (status = 200, description = "The project", body = ProjectObject),
        (status = 401, description = "Missing or wrong admin key", body = ErrorEnvelope),
        (status = 404, description = "No admin key is configured: the admin API is off", body = ErrorEnvelope),
    )
)]
pub async fn get_project(
    State(state): State<AppState>,
    Path(project): Path<String>,
) -> ApiResult<Json<ProjectObject>> {
    Ok(Json(project_object(&state, project).await?))
}

/// Suspends a project: its requests get 403 `project_suspended` and
/// everything it has running is cancelled now.
#[utoipa::path(
    post, path = "/admin/projects/{project}/suspend", tag = "Admin",
    params(("project" = String, Path, description = "The project's name")),
    responses(
        (status = 200, description = "The project, suspended, with what was cancelled", body = ProjectObject),
        (status = 401, description = "Missing or wrong admin key", body = ErrorEnvelope),
        (status = 404, description = "No admin key is configured: the admin API is off", body = ErrorEnvelope),
    )
)]
pub async fn suspend_project(
    State(state): State<AppState>,
    Path(project): Path<String>,
) -> ApiResult<Json<ProjectObject>> {
    let cancelled = suspend(&state, &Target::Project(project.clone()), &project).await?;
    let mut object = project_object(&state, project).await?;
    object.cancelled = Some(cancelled);
    Ok(Json(object))
}

/// Resumes a suspended project.
#[utoipa::path(
    post, path = "/admin/projects/{project}/resume", tag = "Admin",
    params(("project" = String, Path, description = "The project's name")),
    responses(
        (status = 200, description = "The project, no longer suspended", body = ProjectObject),
        (status = 401, description = "Missing or wrong admin key", body = ErrorEnvelope),
        (status = 404, description = "No admin key is configured: the admin API is off", body = ErrorEnvelope),
    )
)]
pub async fn resume_project(
    State(state): State<AppState>,
    Path(project): Path<String>,
) -> ApiResult<Json<ProjectObject>> {
    resume(&state, &Target::Project(project.clone())).await?;
    Ok(Json(project_object(&state, project).await?))
}

/// Suspends a key (config or issued): its requests get 403 `key_suspended`
/// and what it has running is cancelled now.
#[utoipa::path(
    post, path = "/admin/keys/{key_id}/suspend", tag = "Admin",
    params(("key_id" = String, Path, description = "`key_…` or `cfgkey_…`")),
    responses(
        (status = 200, description = "The key, suspended, with what was cancelled", body = KeyObject),
        (status = 401, description = "Missing or wrong admin key", body = ErrorEnvelope),
        (status = 404, description = "No such key, or the admin API is off", body = ErrorEnvelope),
    )
)]
pub async fn suspend_key(
    State(state): State<AppState>,
    Path(key_id): Path<String>,
) -> ApiResult<Json<KeyObject>> {
    let key = state
        .access
        .keys
        .by_id(&key_id)
        .await?
        .ok_or_else(|| key_not_found(&key_id))?;
    let cancelled = suspend(&state, &Target::Key(key.id.clone()), &key.project).await?;
    let mut object = KeyObject::new(key, true);
    object.cancelled = Some(cancelled);
    Ok(Json(object))
}

/// Resumes a suspended key.
#[utoipa::path(
    post, path = "/admin/keys/{key_id}/resume", tag = "Admin",
    params(("key_id" = String, Path, description = "`key_…` or `cfgkey_…`")),
    responses(
        (status = 200, description = "The key, no longer suspended", body = KeyObject),
        (status = 401, description = "Missing or wrong admin key", body = ErrorEnvelope),
        (status = 404, description = "No such key, or the admin API is off", body = ErrorEnvelope),
    )
)]
pub async fn resume_key(
    State(state): State<AppState>,
    Path(key_id): Path<String>,
) -> ApiResult<Json<KeyObject>> {
    let key = state
        .access
        .keys
        .by_id(&key_id)
        .await?
        .ok_or_else(|| key_not_found(&key_id))?;
    resume(&state, &Target::Key(key.id.clone())).await?;
    Ok(Json(KeyObject::new(key, false)))
}
