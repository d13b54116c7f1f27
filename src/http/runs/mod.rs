//! The Assistants API v2's runs and run steps; the run engine is `engine::runs`.
//!
//! A run is stored `queued` (with its job, and its new thread or additional
//! messages) before the client hears of it; then a task executes one
//! *segment*: it claims the run, builds the chat history (`engine::runs::history`), streams
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

pub mod handlers;
pub mod lifecycle;
pub mod reply;
pub mod steps;

use axum::routing::{get, post};
use axum::Router;

use crate::engine::state::AppState;

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
