//! What kind of request this is, for the kill switch and the meter
//! ([`Route`]), and the 403 a suspended project or key gets.

use axum::http::{Method, StatusCode};

use crate::inflight::Target;
use crate::wire::error::{ApiError, ErrorBody};

/// What kind of request this is, for the kill switch and the meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/embeddings`.
    Embeddings,
    /// `POST /v1/responses`.
    Responses,
    /// `POST /v1/responses/compact` (one JSON answer, like chat's).
    Compaction,
    /// A request that starts or continues a run.
    Runs,
    Other,
}

impl Route {
    /// The route of a request.
    pub fn of(method: &Method, path: &str) -> Self {
        if method != Method::POST {
            return Self::Other;
        }
        match path {
            "/v1/chat/completions" => Self::Chat,
            "/v1/embeddings" => Self::Embeddings,
            "/v1/responses" => Self::Responses,
            "/v1/responses/compact" => Self::Compaction,
            "/v1/threads/runs" => Self::Runs,
            path if path.starts_with("/v1/threads/")
                && (path.ends_with("/runs") || path.ends_with("/submit_tool_outputs")) =>
            {
                Self::Runs
            }
            _ => Self::Other,
        }
    }

    /// Whether the gate itself stops the request when it is killed (the
    /// routes whose backend request lives in the handler or its body).
    pub fn stops_on_kill(self) -> bool {
        matches!(self, Self::Chat | Self::Embeddings | Self::Compaction)
    }
}

/// The 403 of a suspended project or key.
pub fn suspended(target: &Target) -> ApiError {
    let (message, code) = match target {
        Target::Project(project) => (
            format!("The project '{project}' is suspended: its requests are refused and its running work was stopped. An administrator can resume it."),
            "project_suspended",
        ),
        Target::Key(_) => (
            "This API key is suspended: its requests are refused and its running work was stopped. An administrator can resume it.".to_owned(),
            "key_suspended",
        ),
    };
    ApiError::Refused {
        status: StatusCode::FORBIDDEN,
        error: ErrorBody {
            message,
            r#type: "permission_error".to_owned(),
            param: None,
            code: Some(code.to_owned()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_told_apart_by_method_and_path() {
        assert_eq!(
            Route::of(&Method::POST, "/v1/chat/completions"),
            Route::Chat
        );
        assert_eq!(
            Route::of(&Method::GET, "/v1/chat/completions"),
            Route::Other
        );
        assert_eq!(Route::of(&Method::POST, "/v1/threads/runs"), Route::Runs);
        assert_eq!(
            Route::of(&Method::POST, "/v1/responses/compact"),
            Route::Compaction
        );
        assert_eq!(
            Route::of(
                &Method::POST,
                "/v1/threads/thread_1/runs/run_1/submit_tool_outputs"
            ),
            Route::Runs
        );
        assert_eq!(
            Route::of(&Method::POST, "/v1/threads/thread_1/runs/run_1/cancel"),
            Route::Other
        );
    }
}
