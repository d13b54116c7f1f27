//! API keys and projects. With keys configured, every `/v1` request needs
//! `Authorization: Bearer <key>`; the key's project owns what the request creates
//! and is the only project whose objects it can read. Without keys the server is
//! open and everything belongs to the default project. Issued keys, rate
//! limits, budgets and the kill switch are in `access`.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;
use crate::state::AppState;

/// The project everything belongs to when no keys are configured.
pub const DEFAULT_PROJECT: &str = "default";

/// The project of the request's API key, put into request extensions by [`require_api_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project(pub String);

/// Middleware: resolves the bearer key to a [`Project`] or answers 401, then
/// applies the kill switch, budgets and rate limits ([`crate::access::gate`]).
pub async fn require_api_key(state: State<AppState>, request: Request, next: Next) -> Response {
    crate::access::gate::admit(state, request, next).await
}

/// Masks a key as OpenAI does: the first few and last four characters.
pub fn mask_key(key: &str) -> String {
    let characters: Vec<char> = key.chars().collect();
    if characters.len() <= 8 {
        return format!("{}****", characters.iter().take(2).collect::<String>());
    }
    let head: String = characters.iter().take(4).collect();
    let tail: String = characters[characters.len() - 4..].iter().collect();
    format!("{head}****{tail}")
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

#[cfg(test)]
mod tests {
    use super::mask_key;

    #[test]
    fn keys_are_masked_in_messages() {
        assert_eq!(mask_key("sk-secret-team-key"), "sk-s****-key");
        assert_eq!(mask_key("short"), "sh****");
    }
}
