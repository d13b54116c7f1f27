//! What the gateway learns about one request while it is served: when it
//! started, when it first called a backend, when that backend's first event
//! and its latest activity arrived, and which model and backend answered.
//! The middleware puts a [`RequestContext`] in a task-local for the handler's
//! future; a backend call record (`metrics::backend_call`) made there takes it along, into
//! spawned tasks and response bodies too, and marks the backend's times on it.
//!
//! From those times comes the gateway's added latency (see
//! [`RequestContext::added_latency`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

tokio::task_local! {
    static CURRENT: Arc<RequestContext>;
}

/// Times are nanoseconds since the request started, plus one (0: not yet).
#[derive(Debug)]
pub struct RequestContext {
    started: Instant,
    backend_started: AtomicU64,
    backend_first_event: AtomicU64,
    backend_activity: AtomicU64,
    /// (model, backend) of the latest backend call.
    backend: Mutex<Option<(String, String)>>,
}

impl RequestContext {
    /// A context for a request that started at `started`.
    pub fn new(started: Instant) -> Self {
        Self {
            started,
            backend_started: AtomicU64::new(0),
            backend_first_event: AtomicU64::new(0),
            backend_activity: AtomicU64::new(0),
            backend: Mutex::new(None),
        }
    }

    /// When the request started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Runs `future` with this context as the current one.
    pub async fn scope<F: std::future::Future>(self: Arc<Self>, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }

    /// The context of the request being served by this task, if any.
    pub fn current() -> Option<Arc<Self>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    fn stamp(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.started).as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX - 1) + 1
    }

    /// The model and backend the request is sent to (the latest call's).
    pub fn note_backend(&self, model: &str, backend: &str) {
        *self.backend.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((model.to_owned(), backend.to_owned()));
    }

    /// A backend call was sent at `at` (the first one fixes the request's
    /// start of backend time).
    pub fn backend_called(&self, at: Instant) {
        let stamp = self.stamp(at);
        let _ =
            self.backend_started
                .compare_exchange(0, stamp, Ordering::Relaxed, Ordering::Relaxed);
        self.backend_activity.fetch_max(stamp, Ordering::Relaxed);
    }

    /// The backend's first event (token, chunk or whole answer) arrived.
    pub fn backend_first_event(&self, at: Instant) {
        let stamp = self.stamp(at);
        let _ = self.backend_first_event.compare_exchange(
            0,
            stamp,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        self.backend_activity.fetch_max(stamp, Ordering::Relaxed);
    }

    /// The backend did something (an event, its end, a failure).
    pub fn backend_activity(&self, at: Instant) {
        self.backend_activity
            .fetch_max(self.stamp(at), Ordering::Relaxed);
    }

    /// The model and backend of the latest backend call.
    pub fn backend(&self) -> Option<(String, String)> {
        self.backend
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The time the gateway itself added, given when the client's first byte
    /// left: the time before the first backend call, plus the time from the
    /// moment the backend had given what the answer needed until that byte —
    /// for a stream, its first event; otherwise its latest activity (the whole
    /// answer, or its failure). `None` when no backend was called.
    pub fn added_latency(&self, first_byte: Instant, streamed: bool) -> Option<Duration> {
        let called = self
            .backend_started
            .load(Ordering::Relaxed)
            .checked_sub(1)?;
        let activity = self.backend_activity.load(Ordering::Relaxed);
        let first_event = self.backend_first_event.load(Ordering::Relaxed);
        let ready = if streamed && first_event > 0 {
            first_event
        } else {
            activity
        }
        .saturating_sub(1)
        .max(called);
        let first_byte = self.stamp(first_byte) - 1;
        Some(Duration::from_nanos(
            called + first_byte.saturating_sub(ready),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn no_backend_call_means_no_added_latency() {
        let start = Instant::now();
        let context = RequestContext::new(start);
        assert_eq!(context.added_latency(start + 5 * MS, false), None);
    }

    #[test]
    fn a_stream_counts_the_time_before_the_call_and_after_the_first_event() {
        let start = Instant::now();
        let context = RequestContext::new(start);
        context.note_backend("m", "b");
        context.backend_called(start + 2 * MS);
        context.backend_first_event(start + 100 * MS);
        context.backend_activity(start + 150 * MS);
        assert_eq!(context.added_latency(start + 103 * MS, true), Some(5 * MS));
        assert_eq!(context.backend(), Some(("m".into(), "b".into())));
    }

    #[test]
    fn a_whole_answer_counts_the_time_after_the_backend_finished() {
        let start = Instant::now();
        let context = RequestContext::new(start);
        context.backend_called(start + 3 * MS);
        context.backend_first_event(start + 50 * MS);
        context.backend_activity(start + 200 * MS);
        assert_eq!(context.added_latency(start + 204 * MS, false), Some(7 * MS));
    }

    #[test]
    fn the_first_call_fixes_the_start_and_the_latest_names_the_backend() {
        let start = Instant::now();
        let context = RequestContext::new(start);
        context.note_backend("m", "first");
        context.backend_called(start + MS);
        context.backend_activity(start + 10 * MS);
        context.note_backend("m", "second");
        context.backend_called(start + 20 * MS);
        context.backend_activity(start + 30 * MS);
        assert_eq!(context.added_latency(start + 31 * MS, false), Some(2 * MS));
        assert_eq!(context.backend(), Some(("m".into(), "second".into())));
    }

    #[tokio::test]
    async fn the_context_is_current_inside_its_scope_only() {
        let context = Arc::new(RequestContext::new(Instant::now()));
        assert!(RequestContext::current().is_none());
        let seen = Arc::clone(&context)
            .scope(async { RequestContext::current().is_some() })
            .await;
        assert!(seen);
    }
}
