//! The HTTP layer: the axum app (`app`: routes, middleware, start-up), one
//! module per resource with its router and handlers (`responses`,
//! `conversations`, `assistants`, `threads`, `runs`, `chat`, `embeddings`,
//! `models`), the control plane's routes (`gate` in front of `/v1`, `admin`
//! and `kill` under `/admin`), extractors (`extract`, `auth`), the
//! per-request middleware (`observe`, `observed_body`), health and metrics
//! routes, and the OpenAPI document (`openapi`). Handlers validate with
//! `wire`, read and write through `store` and hand work to `engine`.

pub mod admin;
pub mod app;
pub mod assistants;
pub mod auth;
pub mod chat;
pub mod conversations;
pub mod embeddings;
pub mod event_stream;
pub mod extract;
pub mod gate;
pub mod health;
pub mod kill;
pub mod metrics;
pub mod models;
pub mod observe;
pub mod observed_body;
pub mod openapi;
pub mod responses;
pub mod runs;
pub mod threads;
