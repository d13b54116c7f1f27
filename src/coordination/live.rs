//! Live background responses: every frame a running background response emits
//! is kept in memory, in order, until it has ended and been written to the
//! event log, so that any number of readers can follow it from any sequence
//! number without missing or repeating a frame. Readers wait on a `watch`
//! channel for new frames; there is no per-reader queue to overflow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use tokio::sync::watch;

use crate::wire::responses::object::ResponseObject;

/// A stream of SSE frames.
pub type Frames = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

#[derive(Debug, Default)]
struct LiveState {
    /// Frames in sequence order: frame `i` has sequence number `i`.
    frames: Vec<Bytes>,
    finished: bool,
    /// The response as a poller sees it now.
    snapshot: Option<ResponseObject>,
}

/// One running background response.
#[derive(Debug)]
pub struct LiveResponse {
    state: Mutex<LiveState>,
    changed: watch::Sender<u64>,
    cancel: watch::Sender<bool>,
}

impl Default for LiveResponse {
    fn default() -> Self {
        Self {
            state: Mutex::new(LiveState::default()),
            changed: watch::channel(0).0,
            cancel: watch::channel(false).0,
        }
    }
}

impl LiveResponse {
    /// Appends frames (they must continue the sequence) and wakes the readers.
    pub fn publish(&self, frames: Vec<Bytes>, snapshot: Option<ResponseObject>) {
        if let Ok(mut state) = self.state.lock() {
            state.frames.extend(frames);
            if snapshot.is_some() {
                state.snapshot = snapshot;
            }
        }
        self.changed.send_modify(|version| *version += 1);
    }

    /// Marks the response ended: readers stop after the last frame.
    pub fn finish(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.finished = true;
        }
        self.changed.send_modify(|version| *version += 1);
    }

    /// The latest snapshot, if the response has started.
    pub fn snapshot(&self) -> Option<ResponseObject> {
        self.state
            .lock()
            .ok()
            .and_then(|state| state.snapshot.clone())
    }

    /// Asks the worker to stop the response. Kept for a worker that
    /// subscribes later (`send` would drop it while nobody listens).
    pub fn request_cancel(&self) {
        self.cancel.send_replace(true);
    }

    /// A receiver that turns true when a cancel is requested.
    pub fn cancel_signal(&self) -> watch::Receiver<bool> {
        self.cancel.subscribe()
    }

    /// Waits until the response has ended.
    pub async fn ended(&self) {
        let mut changes = self.changed.subscribe();
        loop {
            if self
                .state
                .lock()
                .map(|state| state.finished)
                .unwrap_or(true)
            {
                return;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// The frames after sequence number `after` (all when `None`), then every
    /// new one as it is published, until the response ends.
    pub fn follow(
        self: Arc<Self>,
        after: Option<u64>,
    ) -> impl Stream<Item = Bytes> + Send + 'static {
        let mut next = after.map_or(0, |after| after as usize + 1);
        let mut changes = self.changed.subscribe();
        async_stream::stream! {
            loop {
                changes.borrow_and_update();
                let (batch, finished) = match self.state.lock() {
                    Ok(state) => (state.frames.get(next..).map(<[Bytes]>::to_vec).unwrap_or_default(), state.finished),
                    Err(_) => (Vec::new(), true),
                };
                next += batch.len();
                for frame in batch {
                    yield frame;
                }
                if finished || changes.changed().await.is_err() {
                    break;
                }
            }
        }
    }
}

/// The live background responses of this process, by id.
#[derive(Debug, Default, Clone)]
pub struct LiveRegistry {
    entries: Arc<Mutex<HashMap<String, Arc<LiveResponse>>>>,
}

impl LiveRegistry {
    /// The live entry of a response, created if needed.
    pub fn get_or_create(&self, response_id: &str) -> Arc<LiveResponse> {
        match self.entries.lock() {
            Ok(mut entries) => entries.entry(response_id.to_owned()).or_default().clone(),
            Err(_) => Arc::new(LiveResponse::default()),
        }
    }

    /// The live entry of a response, if it is running in this process.
    pub fn get(&self, response_id: &str) -> Option<Arc<LiveResponse>> {
        self.entries
            .lock()
            .ok()
            .and_then(|entries| entries.get(response_id).cloned())
    }

    /// The ids of the work running here now.
    pub fn ids(&self) -> Vec<String> {
        self.entries
            .lock()
            .map(|entries| entries.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Forgets an ended response (its frames are in the event log by then).
    pub fn remove(&self, response_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(response_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn followers_from_any_offset_see_every_frame_once_in_order() {
        let live = Arc::new(LiveResponse::default());
        live.publish(vec![Bytes::from("0"), Bytes::from("1")], None);
        let from_start = tokio::spawn(live.clone().follow(None).collect::<Vec<_>>());
        let after_one = tokio::spawn(live.clone().follow(Some(1)).collect::<Vec<_>>());
        tokio::task::yield_now().await;
        live.publish(vec![Bytes::from("2")], None);
        live.publish(vec![Bytes::from("3")], None);
        live.finish();
        assert_eq!(
            from_start.await.unwrap(),
            ["0", "1", "2", "3"].map(Bytes::from)
        );
        assert_eq!(after_one.await.unwrap(), ["2", "3"].map(Bytes::from));
    }
}
