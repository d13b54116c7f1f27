//! The API suite (`tests/api/`) again, on PostgreSQL: each test gets a new
//! database in a throwaway cluster this process starts (see
//! `tests/support/postgres.rs`). Without PostgreSQL on the machine the tests
//! run on SQLite and the run says so (under `CI=true` that fails instead).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The store this build of the suite runs on (see `helpers::store_location`).
pub const DEFAULT_STORE: &str = "postgres";

#[path = "support/postgres.rs"]
mod postgres_cluster;

/// The suite's files, found in `tests/api/` (each test module as in its own
/// build, `crate::helpers` included, through the re-export below).
#[path = "api"]
mod suite {
    pub mod assistants;
    pub mod auth;
    pub mod backend_kinds;
    pub mod background;
    pub mod chat;
    pub mod chat_cache;
    pub mod chat_openai_shape;
    pub mod chat_store;
    pub mod compaction;
    pub mod control_plane;
    pub mod conversations;
    pub mod embeddings;
    pub mod errors;
    pub mod failover;
    pub mod helpers;
    pub mod input_tokens;
    pub mod isolation;
    pub mod keys_and_limits;
    pub mod metrics;
    pub mod models_and_health;
    pub mod openapi;
    pub mod responses;
    pub mod runs;
    pub mod runs_lifecycle;
    pub mod runs_limits;
    pub mod runs_streaming;
    pub mod sse_snapshots;
    pub mod streaming;
    pub mod threads;
}

#[allow(unused_imports)]
use suite::*;
