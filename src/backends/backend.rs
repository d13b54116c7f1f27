//! What a backend is to the rest of the gateway: a source of tokens
//! ([`Backend`]) answering in the normalized chat vocabulary, and, for an HTTP
//! server that speaks Chat Completions itself, a [`Forwarder`] that takes
//! OpenAI request bodies as they are.

use std::pin::Pin;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::Stream;
use serde_json::Value;

use crate::wire::chat_events::{ChatEvent, ChatRequest};

use super::error::BackendError;

/// A backend that takes OpenAI request bodies as they are (an HTTP server
/// that speaks Chat Completions).
pub trait Forwarder: Send + Sync {
    /// Sends a Chat Completions body (adapted to what the server accepts).
    fn forward_chat<'a>(
        &'a self,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<reqwest::Response, BackendError>>;

    /// Sends an embeddings body as it is.
    fn forward_embeddings(
        &self,
        body: Bytes,
    ) -> BoxFuture<'_, Result<reqwest::Response, BackendError>>;

    /// Learns which server this is (unless configured), so that the first
    /// request finds it known.
    fn learn_kind(&self) -> BoxFuture<'static, ()>;
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
    fn chat_passthrough(&self) -> Option<&dyn Forwarder> {
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
