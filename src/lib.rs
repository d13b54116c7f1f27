//! Portico: a stateful OpenAI-platform gateway in front of local inference servers.
//!
//! Layers, each using only itself and the layers below (`tests/layers.rs`
//! checks it; ARCHITECTURE.md draws it): `wire` (OpenAI's objects, requests,
//! errors) ← `stream` (every event grammar and SSE) ← `store` (persistence) ←
//! services (`config`, `backends`, `cache`, `inflight`, `observe`, `metrics`,
//! `access`, `background`, `engine`) ← `http` (the axum app and handlers) ←
//! tools (`cli`, `mock_backend`, `conformance`).

pub mod access;
pub mod backends;
pub mod background;
pub mod cache;
pub mod cli;
pub mod config;
pub mod conformance;
pub mod coordination;
pub mod engine;
pub mod http;
pub mod inflight;
pub mod metrics;
pub mod mock_backend;
pub mod observe;
pub mod store;
pub mod stream;
pub mod wire;
