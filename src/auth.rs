//! API keys and projects. With keys configured, every `/v1` request needs
//! `Authorization: Bearer <key>`; the key's project owns what the request creates
//! and is the only project whose objects it can read. Without keys the server is
//! open and everything belongs to the default project.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// The project everything belongs to when no keys are configured.
pub const DEFAULT_PROJECT: &str = "default";

/// The project of the request's API key, put into request extensions by [`require_api_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project(pub String);

/// Middleware: resolves the bearer key to a [`Project`] or answers 401.
pub async fn require_api_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let project = if state.api_keys.is_empty() {
        DEFAULT_PROJECT.to_owned()
    } else {
        let presented = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim);
        match presented {
            None | Some("") => {
                return ApiError::Unauthorized {
                    message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).".into(),
                }
                .into_response()
            }
            Some(key) => match state.api_keys.get(key) {
                Some(project) => project.clone(),
                None => {
                    return ApiError::Unauthorized {
                        message: format!("Incorrect API key provided: {}.", mask_key(key)),
                    }
                    .into_response()
                }
            },
        }
    };
    request.extensions_mut().insert(Project(project));
    next.run(request).await
}

/// Masks a key as OpenAI does: the first few and last four characters.
fn mask_key(key: &str) -> String {
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
