//! How a backend failed ([`BackendError`]): unreachable, too slow, an error
//! answer classified in OpenAI's terms (`fault`), or a stream that broke.

use super::fault;

/// How a backend failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The backend could not be reached (connection refused, DNS, reset before headers).
    #[error("backend unreachable: {0}")]
    Unreachable(String),
    /// The backend did not answer in time.
    #[error("backend timed out: {0}")]
    Timeout(String),
    /// The backend answered with an error (a status before any token, or an
    /// error object in its stream), classified in OpenAI's terms.
    #[error("backend answered {status}: {raw}")]
    Status {
        status: u16,
        /// What the error means, whatever the backend's words ([`fault`]).
        fault: fault::Fault,
        /// The backend's own body, for logs only (it may hold internals).
        raw: String,
    },
    /// The stream broke or carried something unparseable after it started.
    #[error("backend stream failed: {0}")]
    Stream(String),
}

impl BackendError {
    /// The error a backend's answer to `path` with this status and body means.
    /// The body is logged here, once; only the classification travels on.
    pub fn from_answer(path: &str, status: u16, body: &str) -> Self {
        let fault = fault::Fault::classify(path, status, body);
        tracing::warn!(path, status, body = %truncated(body), ?fault, "backend error answer");
        Self::Status {
            status,
            fault,
            raw: truncated(body),
        }
    }

    /// The error an `{"error": …}` object inside a backend's stream means
    /// (see [`fault::Fault::classify_stream_error`]); logged here, once.
    pub fn from_stream_error(path: &str, error: &serde_json::Value) -> Self {
        let (status, fault) = fault::Fault::classify_stream_error(path, error);
        let raw = truncated(&error.to_string());
        tracing::warn!(path, status, body = %raw, ?fault, "backend error in its stream");
        Self::Status { status, fault, raw }
    }

    /// The error with the parameter its words name found in `request` (see
    /// [`fault::Fault::located_in`]).
    pub fn located_in(self, request: &serde_json::Value) -> Self {
        match self {
            Self::Status { status, fault, raw } => Self::Status {
                status,
                fault: fault.located_in(&raw, request),
                raw,
            },
            other => other,
        }
    }

    /// Whether the fault is the client's to fix (see [`fault::Fault::is_client_mistake`]).
    pub fn is_client_mistake(&self) -> bool {
        matches!(self, Self::Status { fault, .. } if fault.is_client_mistake())
    }
}

/// At most 2,000 characters of a backend's body, for logs.
fn truncated(body: &str) -> String {
    body.chars().take(2_000).collect()
}
