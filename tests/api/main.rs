//! Integration tests: the real server on port 0 with a temporary SQLite file,
//! in front of `portico mock-backend` served on a real loopback port.
//! `tests/api_postgres.rs` runs the same tests on PostgreSQL;
//! `PORTICO_TEST_STORE` (`sqlite`, `postgres`) overrides either.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The store this build of the suite runs on (see `helpers::store_location`).
pub const DEFAULT_STORE: &str = "sqlite";

#[path = "../support/postgres.rs"]
mod postgres_cluster;

mod assistants;
mod auth;
mod backend_kinds;
mod background;
mod chat;
mod chat_cache;
mod chat_openai_shape;
mod chat_store;
mod compaction;
mod control_plane;
mod conversations;
mod embeddings;
mod errors;
mod failover;
mod helpers;
mod input_tokens;
mod isolation;
mod keys_and_limits;
mod metrics;
mod models_and_health;
mod openapi;
mod responses;
mod runs;
mod runs_lifecycle;
mod runs_limits;
mod runs_streaming;
mod sse_snapshots;
mod streaming;
mod threads;
