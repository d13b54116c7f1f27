//! The Assistants API v2's runs and run steps, and the run engine.
//!
//! A run is stored `queued` (with its job, and its new thread or additional
//! messages) before the client hears of it; then a task executes one
//! *segment*: it claims the run, builds the chat history (`history`), streams
//! the backend's answer through the event grammar (`stream::assistants`),
//! stores steps and messages as they happen, and ends the segment in
//! `requires_action` (function tool calls) or a terminal status. Every frame
//! goes to the run's live buffer, which the create-run, create-thread-and-run
//! and submit_tool_outputs streams follow; polling reads the stored run.
//! `submit_tool_outputs` completes the tool_calls step and queues the next
//! segment of the same run. Runs waiting for outputs past `expires_at` are
//! marked `expired` by a sweeper; cancel goes through `cancelling` and closes
//! the backend request; at start-up, runs a crash interrupted are marked
//! failed and queued ones run (`lifecycle`).

pub mod engine;
pub mod handlers;
pub mod history;
pub mod lifecycle;
pub mod object;
pub mod registry;
pub mod request;
pub mod steps;

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::error::ApiError;
use crate::state::AppState;

/// How long the polling helpers wait between polls (`openai-poll-after-ms`).
const POLL_AFTER_MS: &str = "100";

/// The run and run step routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/threads/runs", post(handlers::create_thread_and_run))
        .route(
            "/v1/threads/{thread_id}/runs",
            post(handlers::create_run).get(handlers::list_runs),
        )
        .route(
            "/v1/threads/{thread_id}/runs/{run_id}",
            get(handlers::get_run).post(handlers::modify_run),
        )
        .route(
            "/v1/threads/{thread_id}/runs/{run_id}/cancel",
            post(lifecycle::cancel_run),
        )
        .route(
            "/v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
            post(lifecycle::submit_tool_outputs),
        )
        .route(
            "/v1/threads/{thread_id}/runs/{run_id}/steps",
            get(steps::list_run_steps),
        )
        .route(
            "/v1/threads/{thread_id}/runs/{run_id}/steps/{step_id}",
            get(steps::get_run_step),
        )
}

/// A run as JSON, with the header that makes the SDKs' pollers wait briefly.
pub fn run_json(run: &object::RunObject) -> Result<Response, ApiError> {
    let mut response = Body::from(serde_json::to_string(run)?).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "openai-poll-after-ms",
        HeaderValue::from_static(POLL_AFTER_MS),
    );
    Ok(response)
}

/// An SSE answer from already framed events.
pub fn sse_frames(frames: impl futures::Stream<Item = bytes::Bytes> + Send + 'static) -> Response {
    let body = futures::StreamExt::map(frames, Ok::<_, Infallible>);
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
