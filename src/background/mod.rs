//! Background responses (`background: true`): the job is stored with the
//! queued response before the client hears of it; a pool of workers claims
//! queued jobs from SQLite (so nothing is lost on a crash), runs them through
//! the engine, and publishes their events to a live buffer that readers follow
//! and an event log that resumed streams replay. On start-up, responses a crash
//! interrupted are marked failed and queued ones simply run. Those created
//! without `store: true` are deleted some minutes after they end (`retention`).

pub mod live;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use live::LiveRegistry;

use crate::wire::chat_events::ChatRequest;

/// What a worker needs, besides the stored response, to run a queued response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub chat: ChatRequest,
    pub reasoning_as_summary: bool,
    pub obfuscate: bool,
    /// The conversation the response continues, whose items it appends when done.
    #[serde(default)]
    pub conversation: Option<String>,
    /// The request's own input items (appended to the conversation).
    #[serde(default)]
    pub input_items: Vec<serde_json::Value>,
}

/// The background machinery shared through `AppState`.
#[derive(Debug, Clone, Default)]
pub struct Background {
    /// Running background responses of this process.
    pub live: LiveRegistry,
    wake: Arc<Notify>,
}

impl Background {
    /// Tells an idle worker that a job was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The signal idle workers wait on.
    pub fn woken(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}
