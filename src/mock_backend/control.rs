//! The mock backend's control routes: queue scripts, read the request log and the
//! counters. Tests drive the mock through these.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::backends::scripted::Script;
use crate::mock_backend::state::{error_response, MockState, MockStats};

/// `POST /control/scripts`: one script or an array of them, appended to the queue.
pub(super) async fn queue_scripts(State(state): State<MockState>, body: Bytes) -> Response {
    match parse_scripts(&body) {
        Ok(scripts) => {
            let queued = scripts.len();
            state.scripts.push(scripts);
            Json(json!({"queued": queued})).into_response()
        }
        Err(message) => error_response(StatusCode::BAD_REQUEST, &message),
    }
}

/// `DELETE /control/scripts`: forget every queued script.
pub(super) async fn clear_scripts(State(state): State<MockState>) -> Json<Value> {
    state.scripts.clear();
    Json(json!({"cleared": true}))
}

/// `GET /control/requests`: the chat request bodies received, oldest first.
pub(super) async fn list_requests(State(state): State<MockState>) -> Json<Value> {
    Json(json!({"requests": state.received_requests()}))
}

/// `DELETE /control/requests`: forget the received bodies.
pub(super) async fn clear_requests(State(state): State<MockState>) -> Json<Value> {
    state.clear_requests();
    Json(json!({"cleared": true}))
}

/// `GET /control/stats`: the counters.
pub(super) async fn stats(State(state): State<MockState>) -> Json<MockStats> {
    Json(state.stats())
}

/// A script or an array of scripts; unknown fields are refused with serde's message.
/// `POST /control/models` with `{"models": [ids]}`: the models `/v1/models` lists besides `mock`.
pub(super) async fn set_models(
    State(state): State<MockState>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let models: Vec<String> = body
        .get("models")
        .and_then(Value::as_array)
        .map(|models| {
            models
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let count = models.len();
    state.set_models(models);
    Json(serde_json::json!({"models": count}))
}

fn parse_scripts(body: &[u8]) -> Result<Vec<Script>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    let scripts = if value.is_array() {
        serde_json::from_value(value)
    } else {
        serde_json::from_value(value).map(|script| vec![script])
    };
    scripts.map_err(|error| error.to_string())
}
