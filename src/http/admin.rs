//! The admin API's keys: `POST /admin/keys` issues a key (its secret is in
//! that answer only), `GET /admin/keys` lists every key without secrets (the
//! config's too), `DELETE /admin/keys/{id}` revokes an issued key. Every
//! `/admin` route needs `Authorization: Bearer <admin key>`; without an admin
//! key in the config the admin API answers 404, as if it did not exist.

use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::access::limits::RateLimits;
use crate::access::project::mask_key;
use crate::engine::state::AppState;
use crate::http::extract::JsonBody;
use crate::http::gate::bearer;
use crate::http::kill;
use crate::inflight::Target;
use crate::wire::admin::{key_not_found, CreateKeyRequest, KeyList, KeyObject};
use crate::wire::error::{ApiError, ApiResult, ErrorEnvelope};

/// The `/admin` routes, behind the admin key; none without an admin key, so
/// that every `/admin` path gets the unknown route's 404.
pub fn router(state: AppState) -> Router<AppState> {
    if !state.access.keys.admin_enabled() {
        return Router::new();
    }
    Router::new()
        .route("/admin/keys", post(create_key).get(list_keys))
        .route("/admin/keys/{key_id}", axum::routing::delete(revoke_key))
        .route("/admin/keys/{key_id}/suspend", post(kill::suspend_key))
        .route("/admin/keys/{key_id}/resume", post(kill::resume_key))
        .route("/admin/projects/{project}", get(kill::get_project))
        .route(
            "/admin/projects/{project}/suspend",
            post(kill::suspend_project),
        )
        .route(
            "/admin/projects/{project}/resume",
            post(kill::resume_project),
        )
        .route_layer(middleware::from_fn_with_state(state, require_admin_key))
}

/// Middleware: 401 without the admin key.
async fn require_admin_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match bearer(request.headers()) {
        Some(presented) if state.access.keys.is_admin(presented) => next.run(request).await,
        Some(presented) => ApiError::Unauthorized {
            message: format!("Incorrect admin key provided: {}.", mask_key(presented)),
        }
        .into_response(),
        None => ApiError::Unauthorized {
            message: "You didn't provide the admin key. You need to provide it in an Authorization header using Bearer auth (i.e. Authorization: Bearer ADMIN_KEY).".into(),
        }
        .into_response(),
    }
}

fn positive(value: Option<u64>, param: &str) -> ApiResult<Option<u64>> {
    match value {
        Some(0) => Err(ApiError::invalid_with_code(
            format!("Invalid '{param}': must be at least 1 (leave it out for no limit)."),
            Some(param.to_owned()),
            "integer_below_min_value",
        )),
        other => Ok(other),
    }
}

/// Issues a key for a project; the answer is the only place its secret appears.
#[utoipa::path(
    post, path = "/admin/keys", tag = "Admin",
    request_body = CreateKeyRequest,
    responses(
        (status = 200, description = "The new key, with its secret in `key` (shown once)", body = KeyObject),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong admin key", body = ErrorEnvelope),
        (status = 404, description = "No admin key is configured: the admin API is off", body = ErrorEnvelope),
    )
)]
pub async fn create_key(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<CreateKeyRequest>,
) -> ApiResult<Json<KeyObject>> {
    let project = request.project.trim().to_owned();
    if project.is_empty() {
        return Err(ApiError::invalid(
            "Invalid 'project': expected a non-empty string.",
            Some("project".to_owned()),
        ));
    }
    let limits = RateLimits {
        requests_per_minute: positive(request.requests_per_minute, "requests_per_minute")?,
        tokens_per_minute: positive(request.tokens_per_minute, "tokens_per_minute")?,
    };
    let (key, secret) = state
        .access
        .keys
        .create(project, request.name, limits)
        .await?;
    let mut object = KeyObject::new(key, false);
    object.key = Some(secret);
    Ok(Json(object))
}

/// Lists every key, the config's and the issued ones, without secrets.
#[utoipa::path(
    get, path = "/admin/keys", tag = "Admin",
    responses(
        (status = 200, description = "Every key (no secrets)", body = KeyList),
        (status = 401, description = "Missing or wrong admin key", body = ErrorEnvelope),
        (status = 404, description = "No admin key is configured: the admin API is off", body = ErrorEnvelope),
    )
)]
pub async fn list_keys(State(state): State<AppState>) -> ApiResult<Json<KeyList>> {
    let keys = state.access.keys.list().await?;
    let data = keys
        .into_iter()
        .map(|key| {
            let suspended = state.coordinator.is_suspended(&Target::Key(key.id.clone()));
            KeyObject::new(key, suspended)
        })
        .collect();
    Ok(Json(KeyList {
        object: "list",
        data,
    }))
}

/// Revokes an issued key: from now on it is refused with 401 (what it has
/// running goes on; suspend the key first to stop that).
#[utoipa::path(
    delete, path = "/admin/keys/{key_id}", tag = "Admin",
    params(("key_id" = String, Path, description = "`key_…`")),
    responses(
        (status = 200, description = "The key, revoked", body = KeyObject),
        (status = 400, description = "A key from the config file (remove it there)", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong admin key", body = ErrorEnvelope),
        (status = 404, description = "No such key, or the admin API is off", body = ErrorEnvelope),
    )
)]
pub async fn revoke_key(
    State(state): State<AppState>,
    Path(key_id): Path<String>,
) -> ApiResult<Json<KeyObject>> {
    if key_id.starts_with("cfgkey_") {
        return Err(ApiError::invalid(
            "Keys from the config file cannot be revoked here: remove them from the file.",
            None,
        ));
    }
    let key = state
        .access
        .keys
        .revoke(&key_id)
        .await?
        .ok_or_else(|| key_not_found(&key_id))?;
    let suspended = state.coordinator.is_suspended(&Target::Key(key.id.clone()));
    Ok(Json(KeyObject::new(key, suspended)))
}
