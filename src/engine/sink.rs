//! Where a running response's events go. A foreground response sends them to the
//! handler answering the client (and carries on if the client goes away); a
//! background response publishes SSE frames to its live buffer for any number of
//! readers and writes them to the event log in small batches, so that a stream
//! can be resumed byte for byte.

use std::sync::Arc;

use sqlx::SqlitePool;
use tokio::sync::mpsc;

use crate::background::live::LiveResponse;
use crate::store;
use crate::stream::sse::response_event_frame;
use crate::stream::{ResponseStreamBuilder, ResponseStreamEvent};

/// Work to do with a foreground response's final state before the client
/// learns it has ended.
pub type BeforeTerminal = Box<
    dyn FnOnce(&crate::responses::object::ResponseObject) -> futures::future::BoxFuture<'static, ()>
        + Send,
>;

/// Frames buffered before the event log is written (also written at every item end).
const FLUSH_EVERY: usize = 32;

/// The destination of a response's events.
pub enum Sink {
    /// A foreground request's handler, while the client is connected. Events
    /// go boxed: a channel's slots are reserved 32 at a time, 8 bytes each
    /// instead of an event's 128, in every open stream.
    Client {
        sender: mpsc::Sender<Box<ResponseStreamEvent>>,
        connected: bool,
        /// Runs once with the final response, before its terminal event is sent.
        before_terminal: Option<BeforeTerminal>,
    },
    /// A background response's live buffer and event log.
    Background {
        live: Arc<LiveResponse>,
        db: SqlitePool,
        response_id: String,
        pending: Vec<(u64, String)>,
    },
}

impl Sink {
    /// A sink for a foreground request; `before_terminal` runs with the final
    /// response before the client gets its terminal event (token metering:
    /// the client's next request must find this one counted).
    pub fn client(
        sender: mpsc::Sender<Box<ResponseStreamEvent>>,
        before_terminal: Option<BeforeTerminal>,
    ) -> Self {
        Self::Client {
            sender,
            connected: true,
            before_terminal,
        }
    }

    /// A sink for a background response.
    pub fn background(live: Arc<LiveResponse>, db: SqlitePool, response_id: String) -> Self {
        Self::Background {
            live,
            db,
            response_id,
            pending: Vec::new(),
        }
    }

    /// Sends events on; `builder` gives pollers the current snapshot.
    pub async fn emit(
        &mut self,
        events: Vec<ResponseStreamEvent>,
        builder: &ResponseStreamBuilder,
    ) {
        match self {
            Self::Client {
                sender,
                connected,
                before_terminal,
            } => {
                for event in events {
                    if let Some(response) = event.terminal_response() {
                        if let Some(hook) = before_terminal.take() {
                            hook(response).await;
                        }
                    }
                    if *connected && sender.send(Box::new(event)).await.is_err() {
                        *connected = false;
                        tracing::debug!("client went away; the response continues");
                    }
                }
            }
            Self::Background { live, pending, .. } => {
                if events.is_empty() {
                    return;
                }
                let boundary = events.iter().any(|event| {
                    event.is_terminal()
                        || matches!(event, ResponseStreamEvent::OutputItemDone { .. })
                });
                let frames: Vec<bytes::Bytes> = events.iter().map(response_event_frame).collect();
                for (event, frame) in events.iter().zip(&frames) {
                    pending.push((
                        event.sequence_number(),
                        String::from_utf8_lossy(frame).into_owned(),
                    ));
                }
                live.publish(frames, Some(builder.snapshot()));
                if boundary || pending.len() >= FLUSH_EVERY {
                    self.flush().await;
                }
            }
        }
    }

    /// Writes buffered frames to the event log.
    pub async fn flush(&mut self) {
        if let Self::Background {
            db,
            response_id,
            pending,
            ..
        } = self
        {
            // Boxed: inline, the store's future would be reserved in every
            // response's task (foreground ones included) for its whole life.
            let written = Box::pin(store::background::append_events(db, response_id, pending));
            if let Err(error) = written.await {
                tracing::error!(%error, %response_id, "could not write the event log");
            }
            pending.clear();
        }
    }

    /// The response has ended: flush, and let readers finish.
    pub async fn close(&mut self) {
        self.flush().await;
        if let Self::Background { live, .. } = self {
            live.finish();
        }
    }
}
