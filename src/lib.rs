//! Portico: a stateful OpenAI-platform gateway in front of local inference servers.
//!
//! The flow every API shares: `api` modules (one per resource) validate and
//! authenticate, the `engine` builds the model input from stored state and turns
//! a backend's chat events into items and events, `stream` owns the event
//! grammars, `store` persists, `backends` produce tokens.

pub mod access;
pub mod app;
pub mod assistants;
pub mod auth;
pub mod backends;
pub mod background;
pub mod cache;
pub mod chat;
pub mod cli;
pub mod config;
pub mod conformance;
pub mod conversations;
pub mod embeddings;
pub mod engine;
pub mod error;
pub mod extract;
pub mod health;
pub mod ids;
pub mod inflight;
pub mod metrics;
pub mod mock_backend;
pub mod models;
pub mod observe;
pub mod openapi;
pub mod responses;
pub mod runs;
pub mod state;
pub mod store;
pub mod stream;
pub mod strict_schema;
pub mod threads;
pub mod wire;
