//! The gate in front of `/v1`, in this order:
//!
//! 1. **Who**: the bearer key → its project (401 `invalid_api_key` for a
//!    missing, unknown or revoked key). Without config keys and without an
//!    admin key the server is open and everything is the default project.
//! 2. **Kill switch**: a suspended project or key gets 403 `permission_error`
//!    (`project_suspended` / `key_suspended`).
//! 3. **Budget**: a project over its daily token budget gets 429 `insufficient_quota`.
//! 4. **Rate limits**: a key over its requests or tokens per minute gets 429
//!    `rate_limit_exceeded`; every answer to a limited key has `x-ratelimit-*`.
//!
//! Then the request is registered as in flight (see `inflight`) and served
//! with its caller in a task-local. When its project or key is suspended
//! while it runs, a chat completion or embedding is stopped at once (its
//! backend request is dropped) and answered 403, and a stream ends with an
//! error event; a response's own task ends the response (see `engine`). The
//! answer's body is watched (`meter`) for the tokens of chat completions and
//! embeddings and for the ids of new runs.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::access::keys::KnownKey;
use crate::access::meter::{self, Watched};
use crate::access::project::{mask_key, Project, DEFAULT_PROJECT};
use crate::access::route::{suspended, Route};
use crate::engine::state::AppState;
use crate::inflight::{self, CallerScope, Kind, Target};
use crate::wire::error::ApiError;

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|key| !key.is_empty())
}

/// The caller's key (`None` on an open server) and project.
async fn identify(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(String, Option<KnownKey>), ApiError> {
    if !state.access.keys.required() {
        return Ok((DEFAULT_PROJECT.to_owned(), None));
    }
    let Some(presented) = bearer(headers) else {
        return Err(ApiError::Unauthorized {
            message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).".into(),
        });
    };
    match state.access.keys.find(presented).await? {
        Some(key) if !key.revoked => Ok((key.project.clone(), Some(key))),
        _ => Err(ApiError::Unauthorized {
            message: format!("Incorrect API key provided: {}.", mask_key(presented)),
        }),
    }
}

/// Middleware: admits a `/v1` request (or answers 401, 403 or 429) and serves it.
pub async fn admit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let (project, key) = match identify(&state, request.headers()).await {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    let key_id = key.as_ref().map(|key| key.id.clone());
    let access = &state.access;
    if let Some(target) = state.coordinator.suspension(&project, key_id.as_deref()) {
        return suspended(&target).into_response();
    }
    if let Err(refused) = access.limits.check_budget(&project).await {
        return refused;
    }
    let rate_headers = match &key {
        Some(key) => {
            let who = format!("key {} in project {}", key.id, key.project);
            match access.limits.admit(&key.id, &who, key.limits).await {
                Ok(headers) => headers,
                Err(refused) => return *refused,
            }
        }
        None => HeaderMap::new(),
    };
    let registration = access
        .inflight
        .register(&project, key_id.clone(), Kind::Request);
    let route = Route::of(request.method(), request.uri().path());
    let request_bytes = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(0);
    request.extensions_mut().insert(Project(project.clone()));
    let caller = CallerScope {
        project: project.clone(),
        key_id: key_id.clone(),
    };
    let served = inflight::scope(caller, next.run(request));
    let mut cancel = registration.cancel.clone();
    let killed = || {
        let target = access
            .inflight
            .suspension(&project, key_id.as_deref())
            .unwrap_or_else(|| Target::Project(project.clone()));
        suspended(&target).into_response()
    };
    let mut response = if route.stops_on_kill() {
        tokio::select! {
            response = served => response,
            Ok(_) = cancel.wait_for(|cancelled| *cancelled) => killed(),
        }
    } else {
        served.await
    };
    // A response cut short by the kill switch fails inside; say why instead.
    if registration.cancelled() && response.status().is_server_error() {
        response = killed();
    }
    response.headers_mut().extend(rate_headers);
    let watched = Watched {
        route,
        registration,
        limits: access.limits.clone(),
        inflight: access.inflight.clone(),
        coordinator: state.coordinator.clone(),
        project,
        key_id,
        request_bytes,
    };
    meter::watch(response, watched).await
}
