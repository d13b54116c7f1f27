//! Backends: where tokens come from. Every backend translates its own wire format
//! into one normalized stream of
//! [`ChatEvent`](crate::wire::chat_events::ChatEvent)s; nothing outside this folder knows
//! what a backend speaks. The engine turns those events into Responses items,
//! the chat module into Chat Completions chunks.

pub mod build;
pub mod fallback;
pub mod fault;
pub mod health;
pub mod ollama;
pub mod openai_compat;
pub mod profile;
pub mod registry;
pub mod scripted;

use std::pin::Pin;

use futures::future::BoxFuture;
use futures::Stream;

use crate::wire::chat_events::{ChatEvent, ChatRequest};

pub use registry::BackendRegistry;

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

/// The stream of a backend's answer.
pub type ChatEventStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, BackendError>> + Send>>;

/// A source of tokens.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// The configured name, for logs and metrics.
    fn name(&self) -> &str;

    /// Starts a streamed chat generation. Errors that happen before the first
    /// event (connect, status) come back as `Err`; later ones inside the stream.
    /// Dropping the stream closes the upstream request.
    fn stream_chat(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'_, Result<ChatEventStream, BackendError>>;

    /// Model ids the backend says it serves (empty when it cannot tell).
    fn list_models(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>>;

    /// For HTTP backends that speak Chat Completions natively: where to forward
    /// `/v1/chat/completions` unchanged. `None` makes the gateway synthesize the
    /// answer from `stream_chat`.
    fn chat_passthrough(&self) -> Option<&openai_compat::OpenAiCompatBackend> {
        None
    }

    /// Counts `text`'s tokens with the backend's own tokenizer, when it exposes
    /// one (`None` otherwise, and the caller estimates).
    fn count_tokens(&self, _text: &str) -> BoxFuture<'_, Option<u64>> {
        Box::pin(async { None })
    }

    /// Which backends the last call went through (a model's candidates, see
    /// `fallback`); taken once. A single backend reports nothing.
    fn take_attempts(&self) -> Attempts {
        Attempts::default()
    }
}

/// How a call went across a model's candidates: the ones that failed before
/// another was tried, and the one tried last (whose answer or error the
/// caller got). Metrics count each by its own backend.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attempts {
    pub fallen_back: Vec<(String, BackendError)>,
    pub last: Option<String>,
}
