//! `portico mock-backend`: the scripted backend served over HTTP as an
//! OpenAI-compatible chat server, so tests, demos and benchmarks can put a real
//! network hop between the gateway and its tokens.
//!
//! Routes:
//! * `POST /v1/chat/completions` — answers with the next queued [`Script`]
//!   (echoing the last user message when the queue is empty), streamed or not.
//!   A scripted `error_status` is answered as that status with an OpenAI error
//!   envelope; a scripted `fail_after_events` breaks a stream off without
//!   `[DONE]` (the connection is aborted), or answers 500 when not streaming.
//!   Scripted `raw_chunks` / `raw_body` are answered verbatim, to imitate the
//!   quirks of real servers.
//! * `POST /v1/embeddings` — deterministic float vectors (see `embeddings`);
//!   honours a scripted `error_status` and `raw_body`.
//! * `GET /v1/models` — the one model, `mock` (and the ones set through
//!   `/control/models`), in the shape of the kind posed as.
//! * `POST /tokenize`, `POST /extras/tokenize/count` — the token counters of
//!   llama.cpp, vLLM and llama-cpp-python; `GET /api/version`, Ollama's version
//!   (posing as Ollama only).
//!
//! With a [`Pose`] (`--kind`, `--error-dialect`) the mock describes itself,
//! refuses requests, streams and words its errors as that kind of server does
//! (`kinds`, `dialect`).
//! * `POST|DELETE /control/scripts` — queue scripts (one or an array) / clear them.
//! * `GET|DELETE /control/requests` — the chat and embeddings request bodies
//!   received / forget them.
//! * `GET /control/stats` — requests, completed streams, streams the client left.
//! * `GET /health` — `{"status":"ok"}`.
//!
//!
//! [`switchable::SwitchableRelay`] puts a relay in front of a mock that can be
//! stopped and started again, to kill a backend under load.
//!
//! [`Script`]: crate::backends::scripted::Script

mod chat;
mod control;
pub mod dialect;
mod embeddings;
pub mod kinds;
mod ollama;
pub mod state;
pub mod switchable;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::backends::profile::ServerKind;
use state::{error_response, MockState, Pose};

/// Chat request bodies may be long conversations; allow more than axum's 2 MB.
const BODY_LIMIT_BYTES: usize = 64 * 1024 * 1024;

/// The mock server's routes over `state`.
pub fn router(state: MockState) -> Router {
    let header = kinds::identifying_header(state.pose.kind);
    let mut routes = Router::new();
    if state.pose.kind == ServerKind::Ollama {
        routes = routes.route("/api/version", get(ollama::version));
    }
    routes
        .route("/v1/chat/completions", post(chat::create_chat_completion))
        .route("/v1/embeddings", post(embeddings::create_embeddings))
        .route("/v1/models", get(list_models))
        .route("/tokenize", post(tokenize))
        .route("/extras/tokenize/count", post(count_tokens))
        .route("/api/chat", post(ollama::chat))
        .route("/api/tags", get(ollama::tags))
        .route(
            "/control/scripts",
            post(control::queue_scripts).delete(control::clear_scripts),
        )
        .route(
            "/control/requests",
            get(control::list_requests).delete(control::clear_requests),
        )
        .route("/control/stats", get(control::stats))
        .route("/control/models", post(control::set_models))
        .route("/health", get(health))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(axum::middleware::map_response(
            move |mut response: Response| {
                let header = header.clone();
                async move {
                    if let Some((name, value)) = header {
                        response.headers_mut().insert(name, value);
                    }
                    response
                }
            },
        ))
        .with_state(state)
}

/// Serves the mock backend with fresh state on an already bound listener until
/// the listener fails.
pub async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    serve_with_state(listener, MockState::default()).await
}

/// Serves the mock backend posing as `pose` (see [`Pose`]).
pub async fn serve_as(listener: tokio::net::TcpListener, pose: Pose) -> std::io::Result<()> {
    let state = MockState {
        pose,
        ..MockState::default()
    };
    serve_with_state(listener, state).await
}

/// Serves the mock backend with the given state, so that an in-process caller
/// can queue scripts and read the log without going through HTTP.
pub async fn serve_with_state(
    listener: tokio::net::TcpListener,
    state: MockState,
) -> std::io::Result<()> {
    axum::serve(
        crate::http::app::no_delay(listener),
        router(state).into_make_service(),
    )
    .await
}

/// `POST /tokenize` as llama.cpp (`{"content"}` → `{"tokens"}`) and vLLM
/// (`{"prompt"}` → `{"count", "tokens"}`) serve it: one token per
/// whitespace-separated word (deterministic, for tests).
async fn tokenize(Json(body): Json<Value>) -> Json<Value> {
    let text = body
        .get("content")
        .or_else(|| body.get("prompt"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let tokens: Vec<usize> = text
        .split_whitespace()
        .enumerate()
        .map(|(index, _)| index)
        .collect();
    Json(json!({"count": tokens.len(), "tokens": tokens}))
}

/// `POST /extras/tokenize/count` as llama-cpp-python serves it: `{"input"}` →
/// `{"count"}`, one token per word like [`tokenize`].
async fn count_tokens(Json(body): Json<Value>) -> Json<Value> {
    let text = body
        .get("input")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Json(json!({"count": text.split_whitespace().count()}))
}

async fn list_models(State(state): State<MockState>) -> Json<Value> {
    Json(kinds::models_answer(state.pose.kind, &state.models()))
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "Unknown route on the mock backend.")
}

#[cfg(test)]
mod tests;
