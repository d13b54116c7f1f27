//! Prometheus metrics, served as text at `GET /metrics`. [`Metrics`] is the
//! cheap-to-clone handle kept in `AppState`; it owns every series Portico
//! exports and the typed functions that record them:
//!
//! | series | type | labels |
//! | --- | --- | --- |
//! | `portico_requests_total` | counter | `route`, `method`, `status`, `model`, `backend` |
//! | `portico_request_duration_seconds` | histogram | `route`, `method`, `status`, `model`, `backend` |
//! | `portico_in_flight_requests` | gauge | |
//! | `portico_backend_requests_total` | counter | `model`, `backend`, `outcome` |
//! | `portico_backend_request_duration_seconds` | histogram | `model`, `backend`, `outcome` |
//! | `portico_time_to_first_token_seconds` | histogram | `model`, `backend` |
//! | `portico_tokens_total` | counter | `model`, `backend`, `direction` |
//! | `portico_backend_errors_total` | counter | `backend`, `kind` |
//! | `portico_gateway_added_latency_seconds` | histogram | |
//! | `portico_circuit_state` | gauge | `backend` |
//! | `portico_cache_total` | counter | `outcome` |
//!
//! HTTP series are recorded by the `observe` middleware (the route is the
//! matched template, never a raw id); backend series by a [`BackendCall`]
//! that the engine and the chat code open around each backend request. The
//! circuit breaker and the response cache report through
//! [`Metrics::set_circuit_state`] and [`Metrics::record_cache`].

pub mod backend_call;
pub mod gateway;
pub mod registry;
pub mod render;
