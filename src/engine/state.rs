//! The one shared state of the server, built once in `App::build` and cloned
//! cheaply into every handler.

use std::sync::Arc;

use crate::backends::registry::BackendRegistry;

/// Everything a handler may need: one shared [`Shared`], so that the clone
/// axum makes for every request is one reference count, not one per field.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state of one server.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
#[derive(Debug)]
pub struct Shared {
    /// Every store, behind its trait.
    pub store: crate::store::factory::Store,
    /// Backends by model.
    pub backends: Arc<BackendRegistry>,
    /// API keys → projects, rate limits and budgets, what is in flight (kill switch).
    pub access: crate::access::Access,
    /// Wake-ups, live work and its cancel signals, suspensions, revocations
    /// and rate counts, as this process shares them with the others.
    pub coordinator: Arc<dyn crate::coordination::Coordinator>,
    /// Seconds an Assistants run waits for tool outputs.
    pub run_expiry_seconds: u64,
    /// Cached and in-flight deterministic generations.
    pub cache: crate::cache::GenerationCache,
    /// Prometheus series (`GET /metrics`).
    pub metrics: crate::metrics::gateway::Metrics,
}
