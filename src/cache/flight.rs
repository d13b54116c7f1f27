//! One generation in flight, shared by every identical request that joins it:
//! the leader's task drives the backend stream and publishes each event to a
//! buffer; followers read the buffer from the start and wait for more. When the
//! last follower goes away, the task stops and the backend request is closed.

use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use tokio::sync::watch;

use crate::backends::{Backend, BackendError, ChatEvent, ChatRequest};

#[derive(Debug, Default)]
struct Published {
    events: Vec<Result<ChatEvent, BackendError>>,
    finished: bool,
    /// Followers that have read at least the first event: late joiners would
    /// still see everything, but the flight stops being joinable once it ends.
    started: bool,
}

/// A shared generation.
#[derive(Debug)]
pub struct Flight {
    published: Mutex<Published>,
    changed: watch::Sender<u64>,
}

impl Default for Flight {
    fn default() -> Self {
        Self {
            published: Mutex::default(),
            changed: watch::channel(0).0,
        }
    }
}

impl Flight {
    /// Whether a new identical request may still join (the answer has not ended).
    pub fn joinable(&self) -> bool {
        self.published
            .lock()
            .map(|published| !published.finished)
            .unwrap_or(false)
    }

    fn publish(&self, event: Result<ChatEvent, BackendError>, finished: bool) {
        if let Ok(mut published) = self.published.lock() {
            published.events.push(event);
            published.finished |= finished;
            published.started = true;
        }
        self.changed.send_modify(|version| *version += 1);
    }

    fn finish(&self) {
        if let Ok(mut published) = self.published.lock() {
            published.finished = true;
        }
        self.changed.send_modify(|version| *version += 1);
    }

    /// Runs the backend call to its end (or until no follower is left) and
    /// returns the events when the answer completed without error.
    pub async fn drive(
        self: Arc<Self>,
        backend: Arc<dyn Backend>,
        request: ChatRequest,
    ) -> Option<Vec<ChatEvent>> {
        let mut collected = Vec::new();
        let mut stream = match backend.stream_chat(request).await {
            Ok(stream) => stream,
            Err(error) => {
                self.publish(Err(error), true);
                return None;
            }
        };
        let mut failed = false;
        while let Some(item) = stream.next().await {
            // Only the table's weak reference and this task remain: nobody reads.
            if Arc::strong_count(&self) <= 1 {
                return None;
            }
            match &item {
                Ok(event) => collected.push(event.clone()),
                Err(_) => failed = true,
            }
            self.publish(item, false);
            if failed {
                break;
            }
        }
        self.finish();
        (!failed).then_some(collected)
    }

    /// Every event from the first, then new ones as they come, until the end.
    pub fn follow(
        self: Arc<Self>,
    ) -> impl Stream<Item = Result<ChatEvent, BackendError>> + Send + 'static {
        let mut changes = self.changed.subscribe();
        let mut next = 0;
        async_stream::stream! {
            loop {
                changes.borrow_and_update();
                let (batch, finished) = match self.published.lock() {
                    Ok(published) => (published.events.get(next..).map(<[_]>::to_vec).unwrap_or_default(), published.finished),
                    Err(_) => (Vec::new(), true),
                };
                next += batch.len();
                for item in batch {
                    yield item;
                }
                if finished || changes.changed().await.is_err() {
                    break;
                }
            }
        }
    }
}
