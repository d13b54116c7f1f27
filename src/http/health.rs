//! Liveness and readiness: `/healthz` answers while the process runs; `/readyz`
//! answers 200 only when the database answers and at least one backend is reachable.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::engine::state::AppState;

/// The health routes (outside `/v1`, no API key needed).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "Health", responses((status = 200, description = "The process is alive", body = Object)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: database and backends.
#[utoipa::path(
    get, path = "/readyz", tag = "Health",
    responses((status = 200, description = "Ready", body = Object), (status = 503, description = "Not ready: no database or no reachable backend", body = Object))
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = state.store.database.ping().await;
    // All at once: one slow backend must not make the probe itself time out.
    let probes = state.backends.entries().iter().map(|entry| async move {
        let reachable = entry.backend.list_models().await.is_ok();
        (entry.backend.name().to_owned(), Value::Bool(reachable))
    });
    let backends: Map<String, Value> = futures::future::join_all(probes)
        .await
        .into_iter()
        .collect();
    let any_backend = backends
        .values()
        .any(|reachable| reachable == &Value::Bool(true));
    let ready = database && any_backend;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(
            json!({"status": if ready { "ready" } else { "not_ready" }, "database": database, "backends": backends}),
        ),
    )
}
