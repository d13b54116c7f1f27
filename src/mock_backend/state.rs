//! The mock backend's state: what it was asked (a bounded log), its scripted
//! answers, the models it lists, what it poses as, its counters; and the error
//! answer its routes share.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::backends::profile::ServerKind;
use crate::backends::scripted::ScriptQueue;

use super::dialect::ErrorDialect;

/// How many request bodies the log keeps; older ones are dropped first so that a
/// long benchmark run does not grow without bound.
pub const REQUEST_LOG_CAPACITY: usize = 1_000;

/// The mock server's shared state: scripts to play, what was received, counters.
#[derive(Clone, Default)]
pub struct MockState {
    /// Scripts for the next chat requests, in order.
    pub scripts: ScriptQueue,
    pub(super) requests: Arc<Mutex<VecDeque<Value>>>,
    pub(super) counters: Arc<Counters>,
    /// Model ids listed besides `mock` (set through `/control/models`).
    pub(super) models: Arc<Mutex<Vec<String>>>,
    /// The kind of server the mock poses as, and how it words errors.
    pub pose: Pose,
}

/// The kind of server the mock poses as (see `kinds`) and the dialect of its
/// errors (see `dialect`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pose {
    pub kind: ServerKind,
    pub dialect: ErrorDialect,
}

impl Pose {
    /// A pose as `kind`, wording errors as that kind does.
    pub fn as_kind(kind: ServerKind) -> Self {
        let dialect = match kind {
            ServerKind::Generic => ErrorDialect::Openai,
            ServerKind::Vllm => ErrorDialect::Vllm,
            ServerKind::Sglang => ErrorDialect::VllmFlat,
            ServerKind::LlamaServer => ErrorDialect::Llamacpp,
            ServerKind::LlamaCppPython => ErrorDialect::Fastapi,
            ServerKind::Ollama => ErrorDialect::Ollama,
            ServerKind::LmStudio => ErrorDialect::Lmstudio,
        };
        Self { kind, dialect }
    }

    /// The kind whose own errors read as `dialect`, wording them so.
    pub fn with_dialect(dialect: ErrorDialect) -> Self {
        let kind = match dialect {
            ErrorDialect::Openai => ServerKind::Generic,
            ErrorDialect::Vllm => ServerKind::Vllm,
            // SGLang still answers in the flat form vLLM left in 0.10.1.
            ErrorDialect::VllmFlat => ServerKind::Sglang,
            ErrorDialect::Llamacpp => ServerKind::LlamaServer,
            ErrorDialect::Ollama => ServerKind::Ollama,
            ErrorDialect::Fastapi => ServerKind::LlamaCppPython,
            ErrorDialect::Lmstudio => ServerKind::LmStudio,
        };
        Self { kind, dialect }
    }
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) requests: AtomicU64,
    pub(super) completed_streams: AtomicU64,
    pub(super) disconnected_streams: AtomicU64,
}

/// A snapshot of the mock server's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MockStats {
    /// Chat completion requests received.
    pub requests: u64,
    /// Streams that ended with `[DONE]`.
    pub completed_streams: u64,
    /// Streams whose client went away before the end.
    pub disconnected_streams: u64,
}

impl MockState {
    /// The chat request bodies received, oldest first.
    pub fn received_requests(&self) -> Vec<Value> {
        self.requests
            .lock()
            .map(|log| log.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The current counters.
    pub fn stats(&self) -> MockStats {
        MockStats {
            requests: self.counters.requests.load(Ordering::Relaxed),
            completed_streams: self.counters.completed_streams.load(Ordering::Relaxed),
            disconnected_streams: self.counters.disconnected_streams.load(Ordering::Relaxed),
        }
    }

    pub(super) fn record_request(&self, body: &Value) {
        if let Ok(mut log) = self.requests.lock() {
            if log.len() >= REQUEST_LOG_CAPACITY {
                log.pop_front();
            }
            log.push_back(body.clone());
        }
    }

    /// The model ids the mock lists: `mock`, then the ones set by the control endpoint.
    pub fn models(&self) -> Vec<String> {
        let mut models = vec!["mock".to_owned()];
        if let Ok(extra) = self.models.lock() {
            models.extend(extra.iter().cloned());
        }
        models
    }

    pub(super) fn set_models(&self, models: Vec<String>) {
        if let Ok(mut current) = self.models.lock() {
            *current = models;
        }
    }

    pub(super) fn clear_requests(&self) {
        if let Ok(mut log) = self.requests.lock() {
            log.clear();
        }
    }
}

/// An OpenAI error envelope: `invalid_request_error` for 4xx, else `server_error`.
pub(super) fn error_response(status: StatusCode, message: &str) -> Response {
    let kind = if status.is_client_error() {
        "invalid_request_error"
    } else {
        "server_error"
    };
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": null}});
    (status, Json(body)).into_response()
}
