//! `GET /metrics`: every series in the Prometheus text format, for a scraper.
//! Outside `/v1` and without an API key, like the health routes: expose the
//! port only where the scraper can reach it.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::engine::state::AppState;
use crate::metrics::render::CONTENT_TYPE;

/// The metrics route.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(
    get, path = "/metrics", tag = "Metrics",
    responses((status = 200, description = "Every series in the Prometheus text exposition format (see README, \"Metrics and logs\")", body = String, content_type = "text/plain; version=0.0.4; charset=utf-8"))
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // Breakers change on their own (cool-downs): read their state at scrape time.
    for entry in state.backends.entries() {
        state
            .metrics
            .set_circuit_state(entry.backend.name(), entry.breaker.state());
    }
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics.render(),
    )
}
