//! How run endpoints answer: a run as JSON with the header that makes the
//! SDKs' pollers wait briefly, and an SSE answer from framed events.

use std::convert::Infallible;

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
