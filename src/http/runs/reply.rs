//! How run endpoints answer: a run as JSON with the header that makes the
//! SDKs' pollers wait briefly, and an SSE answer from framed events.

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::wire::error::ApiError;

use crate::wire::runs::object;

/// How long the polling helpers wait between polls (`openai-poll-after-ms`).
const POLL_AFTER_MS: &str = "100";

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
