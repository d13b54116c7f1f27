//! Background responses (`background: true`): the job is stored with the
//! queued response before the client hears of it; a pool of workers claims
//! queued jobs from SQLite (so nothing is lost on a crash), runs them through
//! the engine, and publishes their events to a live buffer that readers follow
//! and an event log that resumed streams replay (through the coordinator, see
//! `coordination`). On start-up, responses a crash interrupted are marked failed
//! and queued ones simply run (`engine::recovery`). Those created
//! without `store: true` are deleted some minutes after they end (`retention`).

use serde::{Deserialize, Serialize};

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
    /// The API key that created it: whichever process runs it counts its
    /// tokens against that key's limit when it ends.
    #[serde(default)]
    pub key_id: Option<String>,
}
