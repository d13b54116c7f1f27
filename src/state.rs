//! The one shared state of the server, built once in `App::build` and cloned
//! cheaply into every handler.

use std::sync::Arc;

use sqlx::SqlitePool;

use crate::backends::BackendRegistry;

/// Everything a handler may need.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The SQLite pool.
    pub db: SqlitePool,
    /// Backends by model.
    pub backends: Arc<BackendRegistry>,
    /// API keys → projects, rate limits and budgets, what is in flight (kill switch).
    pub access: crate::access::Access,
    /// Background workers and live background responses.
    pub background: crate::background::Background,
    /// Assistants runs: live segments, cancel signals and the expiry setting.
    pub runs: crate::runs::RunRegistry,
    /// Cached and in-flight deterministic generations.
    pub cache: crate::cache::GenerationCache,
    /// Prometheus series (`GET /metrics`).
    pub metrics: crate::metrics::Metrics,
}
