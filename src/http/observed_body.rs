//! The end of a request, as the middleware sees it through the answer's body:
//! [`ObservedBody`] wraps every answer so that the request's span is entered
//! while the body is produced (a relayed stream's log lines carry the request
//! id too), the client's first byte is timed (the gateway's added latency),
//! and the request is recorded when its last frame has been handed over — or
//! when the body is dropped (the client left mid-stream).
//!
//! Recording a request ([`Finish`]) counts it and its duration, takes it out of
//! the in-flight gauge, and writes its one `request finished` log line with
//! `status`, `duration_ms` and, when a backend was called, `model` and
//! `backend`. A request whose handler was dropped before answering (the
//! client closed the connection) is recorded with status `499`, nginx's
//! "client closed request".

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::StatusCode;
use http_body::{Frame, SizeHint};
use tracing::Span;

use crate::metrics::gateway::{InFlight, Metrics};
use crate::observe::context::RequestContext;

/// The status recorded for a request whose client left before its answer.
const CLIENT_CLOSED: &str = "499";

/// Everything needed to record one request when it ends.
#[derive(Debug)]
pub struct Finish {
    pub metrics: Metrics,
    pub context: Arc<RequestContext>,
    pub route: Arc<str>,
    pub method: &'static str,
    pub span: Span,
    /// Set once the handler has answered.
    pub status: Option<StatusCode>,
    /// Whether the answer is an event stream (for the added latency).
    pub streamed: bool,
    pub in_flight: Option<InFlight>,
    first_byte_seen: bool,
    done: bool,
}

impl Finish {
    /// A request that has just arrived.
    pub fn new(
        metrics: Metrics,
        context: Arc<RequestContext>,
        route: Arc<str>,
        method: &'static str,
        span: Span,
    ) -> Self {
        let in_flight = Some(metrics.in_flight());
        Self {
            metrics,
            context,
            route,
            method,
            span,
            status: None,
            streamed: false,
            in_flight,
            first_byte_seen: false,
            done: false,
        }
    }

    /// The client's first byte is leaving now.
    fn first_byte(&mut self) {
        if std::mem::replace(&mut self.first_byte_seen, true) {
            return;
        }
        if let Some(added) = self.context.added_latency(Instant::now(), self.streamed) {
            self.metrics.record_gateway_added_latency(added);
        }
    }

    /// Records the request (once).
    pub fn finish(&mut self) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        if self.status.is_some() {
            self.first_byte();
        }
        let duration = self.context.started().elapsed();
        let status = self.status.map(|status| status.as_u16());
        let status_label = self
            .status
            .as_ref()
            .map_or(CLIENT_CLOSED, StatusCode::as_str);
        let backend = self.context.backend();
        let labels = backend.as_ref().map_or(("", ""), |(model, backend)| {
            (model.as_str(), backend.as_str())
        });
        self.metrics
            .record_request(&self.route, self.method, status_label, labels, duration);
        self.in_flight = None;
        let (model, backend) = match &backend {
            Some((model, backend)) => (Some(model.as_str()), Some(backend.as_str())),
            None => (None, None),
        };
        let _entered = self.span.enter();
        // Whole microseconds: no float noise in the log line.
        let duration_ms = duration.as_micros() as f64 / 1000.0;
        match status {
            Some(status) => {
                tracing::info!(status, duration_ms, model, backend, "request finished")
            }
            None => tracing::info!(
                status = 499,
                duration_ms,
                model,
                backend,
                "request finished: the client closed the connection before the answer"
            ),
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.finish();
    }
}

/// An answer's body, observed (see the module doc).
#[derive(Debug)]
pub struct ObservedBody {
    inner: Body,
    finish: Finish,
}

impl ObservedBody {
    /// Wraps `inner`; `finish` records the request when it ends.
    pub fn new(inner: Body, finish: Finish) -> Self {
        Self { inner, finish }
    }
}

impl HttpBody for ObservedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let span = this.finish.span.clone();
        let _entered = span.enter();
        let polled = Pin::new(&mut this.inner).poll_frame(context);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if frame.is_data() {
                    this.finish.first_byte();
                }
                if this.inner.is_end_stream() {
                    this.finish.finish();
                }
            }
            Poll::Ready(Some(Err(_)) | None) => this.finish.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
