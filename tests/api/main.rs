//! Integration tests: the real server on port 0 with a temporary SQLite file,
//! in front of `portico mock-backend` served on a real loopback port.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod background;
mod chat;
mod conversations;
mod embeddings;
mod errors;
mod helpers;
mod models_and_health;
mod openapi;
mod responses;
mod sse_snapshots;
mod streaming;
