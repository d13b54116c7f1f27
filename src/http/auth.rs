//! API keys and projects. With keys configured, every `/v1` request needs
//! `Authorization: Bearer <key>`; the key's project owns what the request creates
//! and is the only project whose objects it can read. Without keys the server is
//! open and everything belongs to the default project. Issued keys, rate
//! limits, budgets and the kill switch are in `access`.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::access::project::{Project, DEFAULT_PROJECT};
use crate::engine::state::AppState;
use crate::wire::error::ApiError;

/// Middleware: resolves the bearer key to a [`Project`] or answers 401, then
/// applies the kill switch, budgets and rate limits ([`crate::http::gate`]).
pub async fn require_api_key(state: State<AppState>, request: Request, next: Next) -> Response {
    crate::http::gate::admit(state, request, next).await
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Project {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Project>()
            .cloned()
            .unwrap_or_else(|| Project(DEFAULT_PROJECT.to_owned())))
    }
}
