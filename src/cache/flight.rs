//! One generation in flight, shared by every identical request that joins it:
//! the leader's task drives the backend stream and publishes each item to a
//! buffer; followers read the buffer from the start and wait for more. When the
//! last follower goes away, the task stops and the backend request is closed.
//! Items are chat events (Responses, Assistants) or the pieces of a relayed
//! Chat Completions answer.

use std::sync::{Arc, Mutex};

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use tokio::sync::watch;

use crate::backends::error::BackendError;

#[derive(Debug)]
struct Published<T> {
    items: Vec<Result<T, BackendError>>,
    finished: bool,
}

impl<T> Default for Published<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            finished: false,
        }
    }
}

/// A shared generation.
#[derive(Debug)]
pub struct Flight<T> {
    published: Mutex<Published<T>>,
    changed: watch::Sender<u64>,
}

impl<T> Default for Flight<T> {
    fn default() -> Self {
        Self {
            published: Mutex::default(),
            changed: watch::channel(0).0,
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Flight<T> {
    /// Whether a new identical request may still join (the answer has not ended).
    pub fn joinable(&self) -> bool {
        self.published
            .lock()
            .map(|published| !published.finished)
            .unwrap_or(false)
    }

    fn publish(&self, item: Result<T, BackendError>, finished: bool) {
        if let Ok(mut published) = self.published.lock() {
            published.items.push(item);
            published.finished |= finished;
        }
        self.changed.send_modify(|version| *version += 1);
    }

    fn finish(&self) {
        if let Ok(mut published) = self.published.lock() {
            published.finished = true;
        }
        self.changed.send_modify(|version| *version += 1);
    }

    /// Runs the backend call `opened` to its end (or until no follower is
    /// left) and returns the items when the answer completed without error.
    pub async fn drive(
        self: Arc<Self>,
        opened: impl std::future::Future<
            Output = Result<BoxStream<'static, Result<T, BackendError>>, BackendError>,
        >,
    ) -> Option<Vec<T>> {
        let mut collected = Vec::new();
        let mut stream = match opened.await {
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
                Ok(piece) => collected.push(piece.clone()),
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

    /// Every item from the first, then new ones as they come, until the end.
    pub fn follow(self: Arc<Self>) -> impl Stream<Item = Result<T, BackendError>> + Send + 'static {
        let mut changes = self.changed.subscribe();
        let mut next = 0;
        async_stream::stream! {
            loop {
                changes.borrow_and_update();
                let (batch, finished) = match self.published.lock() {
                    Ok(published) => (published.items.get(next..).map(<[_]>::to_vec).unwrap_or_default(), published.finished),
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
