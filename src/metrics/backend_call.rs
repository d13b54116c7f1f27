//! The record of one request to a backend. Open it with
//! [`crate::metrics::gateway::Metrics::backend_call`] right before calling the backend; then:
//!
//! * [`BackendCall::failed`] when the call fails before answering;
//! * [`BackendCall::observe`] (chat events) or [`BackendCall::observe_bytes`]
//!   (a relayed body) to wrap the answer's stream: its first event gives the
//!   time to first token, `Usage` events the tokens, an error item a failure
//!   of kind `stream`, and its end the outcome `success`;
//! * for a whole (non-streamed) answer, [`BackendCall::answered`] when it has
//!   arrived, then [`BackendCall::usage_json`] and [`BackendCall::succeeded`];
//!   a relayed stream's chunks go to [`BackendCall::observe_chunk`].
//!
//! When the backend is a model's candidate list, call
//! [`BackendCall::attempted`] once the call has returned: candidates that failed
//! before another was tried are counted as errors of their own backend, and
//! the call is labelled with the backend that answered.
//!
//! The outcome is counted once, when first known; a call dropped without one
//! (the client went away, the response was cancelled) counts as `cancelled`.
//! Tokens are counted with the outcome, from the latest usage the backend
//! reported. When opened while a request is served, the call also marks the
//! backend's times on the request's context (for the added latency and the
//! request's log line), wherever the stream is later read.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use futures::Stream;
use serde_json::Value;

use crate::backends::backend::{Backend, ChatEventStream};
use crate::backends::error::BackendError;
use crate::metrics::gateway::{BackendOutcome, Metrics};
use crate::observe::context::RequestContext;
use crate::wire::chat_events::ChatEvent;

/// One backend request being recorded (clones share it).
#[derive(Debug, Clone)]
pub struct BackendCall {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    metrics: Metrics,
    model: String,
    /// The backend's label (the one that answered, once known).
    backend: Mutex<String>,
    started: Instant,
    request: Option<Arc<RequestContext>>,
    progress: Mutex<Progress>,
}

#[derive(Debug, Default)]
struct Progress {
    first_event_seen: bool,
    not_sent: bool,
    outcome: Option<BackendOutcome>,
    /// (input, output) as last reported.
    usage: Option<(u64, u64)>,
}

impl BackendCall {
    pub(super) fn start(metrics: Metrics, model: &str, backend: &str) -> Self {
        let started = Instant::now();
        let request = RequestContext::current();
        if let Some(request) = &request {
            request.note_backend(model, backend);
        }
        Self {
            inner: Arc::new(Inner {
                metrics,
                model: model.to_owned(),
                backend: Mutex::new(backend.to_owned()),
                started,
                request,
                progress: Mutex::new(Progress::default()),
            }),
        }
    }

    fn backend(&self) -> String {
        self.inner
            .backend
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Takes `backend`'s record of the candidates this call went through:
    /// each failed attempt is counted against its backend (outcome `error`,
    /// and its kind), and the call is relabelled with the candidate tried last.
    pub fn attempted(&self, backend: &dyn Backend) {
        let attempts = backend.take_attempts();
        let metrics = &self.inner.metrics;
        for (failed, error) in &attempts.fallen_back {
            metrics.record_backend_error(failed, error);
            metrics.record_backend_request(&self.inner.model, failed, BackendOutcome::Error);
        }
        if let Some(last) = attempts.last {
            if let Some(request) = &self.inner.request {
                request.note_backend(&self.inner.model, &last);
            }
            *self
                .inner
                .backend
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = last;
        }
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.inner
            .progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The request's context, marked as waiting for a backend since this
    /// call started (done at the call's first sign of life, so that an answer
    /// served by the cache marks nothing).
    fn sent(&self) -> Option<&RequestContext> {
        if self.progress().not_sent {
            return None;
        }
        let request = self.inner.request.as_deref()?;
        request.backend_called(self.inner.started);
        Some(request)
    }

    fn activity(&self, at: Instant) {
        if let Some(request) = self.sent() {
            request.backend_activity(at);
        }
    }

    /// A streamed event arrived: the first one gives the time to first token.
    fn event(&self) {
        let now = Instant::now();
        let first = {
            let mut progress = self.progress();
            !progress.not_sent && !std::mem::replace(&mut progress.first_event_seen, true)
        };
        if first {
            self.inner.metrics.record_time_to_first_token(
                &self.inner.model,
                &self.backend(),
                now.saturating_duration_since(self.inner.started),
            );
            if let Some(request) = self.sent() {
                request.backend_first_event(now);
            }
        }
        self.activity(now);
    }

    /// The backend failed: counts the error by kind and the outcome `error`.
    /// Returns the error, for `map_err`.
    pub fn failed(&self, error: BackendError) -> BackendError {
        if self.progress().not_sent {
            return error;
        }
        self.activity(Instant::now());
        self.inner
            .metrics
            .record_backend_error(&self.backend(), &error);
        self.finish(BackendOutcome::Error);
        error
    }

    /// A whole (non-streamed) answer has arrived.
    pub fn answered(&self) {
        let now = Instant::now();
        if let Some(request) = self.sent() {
            request.backend_first_event(now);
        }
        self.activity(now);
    }

    /// The answer does not come from this call after all (the cache replayed
    /// it, or another request's identical call is shared): nothing is counted.
    pub fn not_sent(&self) {
        self.progress().not_sent = true;
    }

    /// The backend's latest token counts.
    pub fn usage(&self, input: u64, output: u64) {
        self.progress().usage = Some((input, output));
    }

    /// Token counts from an OpenAI `usage` object (Chat or Responses spelling), if any.
    pub fn usage_json(&self, usage: Option<&Value>) {
        let Some(usage) = usage.filter(|usage| usage.is_object()) else {
            return;
        };
        let count = |names: [&str; 2]| {
            names
                .iter()
                .find_map(|name| usage.get(*name).and_then(Value::as_u64))
                .unwrap_or(0)
        };
        self.usage(
            count(["prompt_tokens", "input_tokens"]),
            count(["completion_tokens", "output_tokens"]),
        );
    }

    /// A relayed Chat Completions chunk: its `usage` is kept, and an
    /// `{"error":…}` chunk counts as a failure of kind `stream`.
    pub fn observe_chunk(&self, chunk: &Value) {
        if let Some(error) = chunk.get("error").filter(|error| !error.is_null()) {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("error chunk");
            let _ = self.failed(BackendError::Stream(message.to_owned()));
            return;
        }
        self.usage_json(chunk.get("usage"));
    }

    /// The answer ended well.
    pub fn succeeded(&self) {
        self.activity(Instant::now());
        self.finish(BackendOutcome::Success);
    }

    fn finish(&self, outcome: BackendOutcome) {
        let usage = {
            let mut progress = self.progress();
            if progress.outcome.is_some() || progress.not_sent {
                return;
            }
            progress.outcome = Some(outcome);
            progress.usage
        };
        let inner = &self.inner;
        let backend = self.backend();
        inner
            .metrics
            .record_backend_request(&inner.model, &backend, outcome);
        inner.metrics.record_backend_duration(
            &inner.model,
            &backend,
            outcome,
            inner.started.elapsed(),
        );
        if let Some((input, output)) = usage {
            inner
                .metrics
                .record_tokens(&inner.model, &backend, input, output);
        }
    }

    /// Wraps a backend's chat events so that they are recorded as they pass.
    pub fn observe(self, stream: ChatEventStream) -> ChatEventStream {
        Box::pin(ObservedEvents {
            inner: stream,
            call: self,
        })
    }

    /// Wraps a relayed answer's body: its first piece gives the time to first
    /// token, an error a failure of kind `stream`. Its end does not settle the
    /// outcome (a relay may stop reading at `[DONE]`): call
    /// [`BackendCall::succeeded`] when the relay is done.
    pub fn observe_bytes<S, B, E>(&self, stream: S) -> impl Stream<Item = Result<B, E>> + Send
    where
        S: Stream<Item = Result<B, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        ObservedBytes {
            inner: Box::pin(stream),
            call: self.clone(),
        }
    }
}

/// Observes `stream` as `call`'s answer, unless the cache gave it (replayed,
/// or shared from another request's identical call, which counts its own):
/// then nothing is counted for `call`.
pub fn observe_unless_cached(
    call: BackendCall,
    stream: ChatEventStream,
    outcome: crate::cache::CacheOutcome,
) -> ChatEventStream {
    match outcome {
        crate::cache::CacheOutcome::Hit | crate::cache::CacheOutcome::Shared => {
            call.not_sent();
            stream
        }
        crate::cache::CacheOutcome::Miss | crate::cache::CacheOutcome::Bypass => {
            call.observe(stream)
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let progress = self
            .progress
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if progress.outcome.is_none() && !progress.not_sent {
            let backend = self
                .backend
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner);
            self.metrics
                .record_backend_request(&self.model, backend, BackendOutcome::Cancelled);
            self.metrics.record_backend_duration(
                &self.model,
                backend,
                BackendOutcome::Cancelled,
                self.started.elapsed(),
            );
            if let Some((input, output)) = progress.usage {
                self.metrics
                    .record_tokens(&self.model, backend, input, output);
            }
        }
    }
}

struct ObservedEvents {
    inner: ChatEventStream,
    call: BackendCall,
}

impl Stream for ObservedEvents {
    type Item = Result<ChatEvent, BackendError>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(context);
        match &polled {
            Poll::Ready(Some(Ok(event))) => {
                self.call.event();
                if let ChatEvent::Usage(usage) = event {
                    self.call
                        .usage(usage.prompt_tokens, usage.completion_tokens);
                }
            }
            Poll::Ready(Some(Err(error))) => {
                let _ = self.call.failed(error.clone());
            }
            Poll::Ready(None) => self.call.succeeded(),
            Poll::Pending => {}
        }
        polled
    }
}

struct ObservedBytes<S> {
    inner: Pin<Box<S>>,
    call: BackendCall,
}

impl<S, B, E> Stream for ObservedBytes<S>
where
    S: Stream<Item = Result<B, E>>,
    E: std::fmt::Display,
{
    type Item = Result<B, E>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(context);
        match &polled {
            Poll::Ready(Some(Ok(_))) => self.call.event(),
            Poll::Ready(Some(Err(error))) => {
                let _ = self.call.failed(BackendError::Stream(error.to_string()));
            }
            Poll::Ready(None) => self.call.activity(Instant::now()),
            Poll::Pending => {}
        }
        polled
    }
}

impl Metrics {
    /// Opens the record of one backend request, starting its clock now (see [`BackendCall`]).
    pub fn backend_call(&self, model: &str, backend: &str) -> BackendCall {
        BackendCall::start(self.clone(), model, backend)
    }
}

#[cfg(test)]
#[path = "backend_call_tests.rs"]
mod tests;
