//! An SSE answer from already framed events, with the headers every stream
//! of the API carries (no caching, no proxy buffering).

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

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
