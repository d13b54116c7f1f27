//! Where a running response's events go. A foreground response sends them to the
//! handler answering the client (and carries on if the client goes away); a
//! background response writes its SSE frames to the event log in small
//! batches (at least every [`FLUSH_INTERVAL`]) and then publishes them to its
//! live buffer for any number of readers, so that a stream can be resumed
//! byte for byte, on any process, from any frame a reader saw.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::coordination::live::LiveResponse;
use crate::store::error::StoreError;
use crate::store::lease::Lease;
use crate::store::responses::ResponseStore;
use crate::stream::sse::response_event_frame;
use crate::stream::{ResponseStreamBuilder, ResponseStreamEvent};
use crate::wire::responses::object::ResponseObject;

/// Work to do with a foreground response's final state before the client
/// learns it has ended.
pub type BeforeTerminal = Box<
    dyn FnOnce(
            &crate::wire::responses::object::ResponseObject,
        ) -> futures::future::BoxFuture<'static, ()>
        + Send,
>;

/// Frames buffered before the event log is written (also written at every
/// item end, at the first event, and once the oldest has waited
/// [`FLUSH_INTERVAL`]).
const FLUSH_EVERY: usize = 32;

/// How long a frame may wait to be written: followers in other processes
/// read the log, so it bounds how far behind them they are.
pub const FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// The destination of a response's events.
pub enum Sink {
    /// A foreground request's handler, while the client is connected. Events
    /// go boxed: a channel's slots are reserved 32 at a time, 8 bytes each
    /// instead of an event's 128, in every open stream.
    Client {
        sender: mpsc::Sender<Box<ResponseStreamEvent>>,
        connected: bool,
        /// Only the terminal event is sent (the client waits for the final
        /// object): no channel send and no wake-up of the handler per event.
        terminal_only: bool,
        /// Runs once with the final response, before its terminal event is sent.
        before_terminal: Option<BeforeTerminal>,
    },
    /// A background response's live buffer and event log.
    Background {
        live: Arc<LiveResponse>,
        responses: Arc<dyn ResponseStore>,
        /// The worker's right to write the event log.
        lease: Option<Lease>,
        response_id: String,
        pending: Vec<(u64, String)>,
        /// When the log was last written (`None`: not yet).
        flushed_at: Option<std::time::Instant>,
        /// The response as a poller sees it, written with the frames.
        snapshot: Option<Box<ResponseObject>>,
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
            terminal_only: false,
            before_terminal,
        }
    }

    /// A client sink that sends only the terminal event when `terminal_only`.
    pub fn terminal_only(mut self, only: bool) -> Self {
        if let Self::Client { terminal_only, .. } = &mut self {
            *terminal_only = only;
        }
        self
    }

    /// A sink for a background response.
    pub fn background(
        live: Arc<LiveResponse>,
        responses: Arc<dyn ResponseStore>,
        lease: Option<Lease>,
        response_id: String,
    ) -> Self {
        Self::Background {
            live,
            responses,
            lease,
            response_id,
            pending: Vec::new(),
            flushed_at: None,
            snapshot: None,
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
                terminal_only,
                before_terminal,
            } => {
                for event in events {
                    if let Some(response) = event.terminal_response() {
                        if let Some(hook) = before_terminal.take() {
                            hook(response).await;
                        }
                    } else if *terminal_only {
                        continue;
                    }
                    if *connected && sender.send(Box::new(event)).await.is_err() {
                        *connected = false;
                        tracing::debug!("client went away; the response continues");
                    }
                }
            }
            Self::Background {
                pending,
                flushed_at,
                snapshot,
                ..
            } => {
                if events.is_empty() {
                    return;
                }
                let boundary = events.iter().any(|event| {
                    event.is_terminal()
                        || matches!(event, ResponseStreamEvent::OutputItemDone { .. })
                });
                for event in &events {
                    let frame = response_event_frame(event);
                    pending.push((
                        event.sequence_number(),
                        String::from_utf8_lossy(&frame).into_owned(),
                    ));
                }
                *snapshot = Some(Box::new(builder.snapshot()));
                let due = flushed_at.is_none_or(|at| at.elapsed() >= FLUSH_INTERVAL);
                if boundary || due || pending.len() >= FLUSH_EVERY {
                    self.flush().await;
                }
            }
        }
    }

    /// When buffered frames must be written at the latest (`None`: none wait).
    pub fn flush_deadline(&self) -> Option<tokio::time::Instant> {
        match self {
            Self::Background {
                pending,
                flushed_at: Some(at),
                ..
            } if !pending.is_empty() => Some(tokio::time::Instant::from_std(*at + FLUSH_INTERVAL)),
            _ => None,
        }
    }

    /// Writes buffered frames to the event log, then hands them to the live
    /// readers: a frame a client saw is one that a resumed stream (on any
    /// process, after any crash) will find.
    pub async fn flush(&mut self) {
        if let Self::Background {
            live,
            responses,
            lease,
            response_id,
            pending,
            flushed_at,
            snapshot,
        } = self
        {
            *flushed_at = Some(std::time::Instant::now());
            if pending.is_empty() {
                return;
            }
            let Some(lease) = lease else {
                tracing::error!(%response_id, "no lease on a background response: its event log is not written");
                pending.clear();
                return;
            };
            let written = responses.append_events(lease, response_id, pending, snapshot.as_deref());
            match written.await {
                Ok(()) => {}
                Err(StoreError::Fenced(_)) => {
                    // Another process took this response over: stop it here.
                    tracing::warn!(%response_id, "lost the lease on a background response; stopping it");
                    live.request_cancel();
                    pending.clear();
                    return;
                }
                Err(error) => {
                    tracing::error!(%error, %response_id, "could not write the event log");
                }
            }
            let frames = pending
                .drain(..)
                .map(|(_, frame)| bytes::Bytes::from(frame))
                .collect();
            live.publish(frames, snapshot.as_deref().cloned());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chat_events::{ChatEvent, TokenUsage};
    use crate::wire::responses::defaults::blank_response;

    /// Runs a short text answer through a client sink; returns what the handler received.
    async fn received(terminal_only: bool) -> Vec<ResponseStreamEvent> {
        let (sender, mut receiver) = mpsc::channel(64);
        let mut sink = Sink::client(sender, None).terminal_only(terminal_only);
        let response = blank_response("resp_1".into(), "m".into(), 1);
        let mut builder = ResponseStreamBuilder::new(response, false, false);
        let started = builder.start().unwrap_or_default();
        sink.emit(started, &builder).await;
        let delta = builder
            .apply(&ChatEvent::TextDelta("hi".into()))
            .unwrap_or_default();
        sink.emit(delta, &builder).await;
        let finished = builder
            .finish(TokenUsage::default().into(), None, 2)
            .unwrap_or_default();
        sink.emit(finished, &builder).await;
        drop(sink);
        let mut events = Vec::new();
        while let Some(event) = receiver.recv().await {
            events.push(*event);
        }
        events
    }

    #[tokio::test]
    async fn a_streaming_client_gets_every_event_and_a_waiting_one_only_the_terminal_event() {
        let streamed = received(false).await;
        assert!(
            streamed.len() > 3,
            "created, in_progress, item, part, delta…"
        );
        assert!(streamed
            .last()
            .is_some_and(ResponseStreamEvent::is_terminal));
        let waited = received(true).await;
        assert_eq!(waited.len(), 1);
        let terminal = &waited[0];
        assert!(terminal.is_terminal());
        assert_eq!(
            terminal.sequence_number(),
            streamed
                .last()
                .map(ResponseStreamEvent::sequence_number)
                .unwrap_or_default()
        );
        let text = terminal
            .terminal_response()
            .and_then(|response| serde_json::to_value(&response.output).ok());
        assert_eq!(
            text.as_ref()
                .and_then(|output| output.pointer("/0/content/0/text")),
            Some(&serde_json::json!("hi"))
        );
    }
}
