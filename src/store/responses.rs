//! The storage of responses: their rows and input/output items, the chains
//! `previous_response_id` walks, background jobs and the event log that
//! resumable streams read. [`ResponseStore`] is the seam; the SQLite
//! implementation is `store::sqlite`.

use async_trait::async_trait;
use serde_json::Value;

use super::error::StoreResult;
use super::lease::Lease;
use crate::wire::query::Page;
use crate::wire::responses::object::ResponseObject;

/// Responses and their event logs.
#[async_trait]
pub trait ResponseStore: Send + Sync + std::fmt::Debug {
    /// Inserts a new response (`in_progress`, or `queued` with the `job` a
    /// background worker will run) with its input items, all or nothing. An
    /// `in_progress` one is `holder`'s: the lease its writes carry.
    async fn insert_response(
        &self,
        holder: &str,
        project: &str,
        response: &ResponseObject,
        input_items: &[Value],
        job: Option<&Value>,
    ) -> StoreResult<Lease>;

    /// Stores a response that has already ended, with its input and output
    /// items, all or nothing (a response nobody could read while it ran).
    async fn insert_finished_response(
        &self,
        project: &str,
        response: &ResponseObject,
        input_items: &[Value],
    ) -> StoreResult<()>;

    /// Deletes a response still `in_progress` that will never run (its
    /// request was dropped while the row was being inserted).
    async fn discard_unstarted(&self, id: &str) -> StoreResult<()>;

    /// Stores a response's final state and its output items, all or nothing,
    /// as the holder of `lease`.
    async fn finish_response(
        &self,
        lease: &Lease,
        response: &ResponseObject,
        turn: Turn<'_>,
    ) -> StoreResult<()>;

    /// A stored response of `project`.
    async fn get_response(&self, project: &str, id: &str) -> StoreResult<Option<StoredResponse>>;

    /// Deletes a response and its items; false when it did not exist in `project`.
    async fn delete_response(&self, project: &str, id: &str) -> StoreResult<bool>;

    /// What a new turn finds at `previous_response_id`.
    async fn continuation(&self, project: &str, previous_id: &str) -> StoreResult<Continuation>;

    /// The most recent stored item with this id in `project` (`item_reference`).
    async fn find_item(&self, project: &str, item_id: &str) -> StoreResult<Option<Value>>;

    /// One page of a response's input items: the items of the chain it
    /// continues (each turn's input and output), then its own input, as
    /// OpenAI lists them. `descending` is OpenAI's default order.
    async fn list_input_items(&self, request: InputItemsPage<'_>) -> StoreResult<Page<Value>>;

    /// Claims the oldest queued background response for `holder`: it moves to
    /// `in_progress` and comes back with the lease its writes carry.
    async fn claim_next(&self, holder: &str) -> StoreResult<Option<ClaimedJob>>;

    /// Appends SSE frames (sequence number, frame) to a response's event log,
    /// as the holder of `lease`, with the response as it stands (`snapshot`):
    /// a store that other processes read keeps it as the stored body, for
    /// their polls (one process answers its polls from the live snapshot).
    async fn append_events(
        &self,
        lease: &Lease,
        response_id: &str,
        frames: &[(u64, String)],
        snapshot: Option<&ResponseObject>,
    ) -> StoreResult<()>;

    /// The logged frames after `after` (all when `None`), in order.
    async fn events_after(
        &self,
        response_id: &str,
        after: Option<u64>,
    ) -> StoreResult<Vec<(u64, String)>>;

    /// Stores `response` (status `cancelled`) if no worker has claimed it yet;
    /// false when it was not queued.
    async fn cancel_if_queued(&self, response: &ResponseObject) -> StoreResult<bool>;

    /// Stores `response` (status `cancelled`) if it has not ended; false when
    /// it ended meanwhile (its answer stays).
    async fn cancel_if_unfinished(&self, response: &ResponseObject) -> StoreResult<bool>;

    /// The ids of a project's background responses that are queued or
    /// running (only those created with the API key `key_id`, when given).
    async fn unfinished_background(
        &self,
        project: &str,
        key_id: Option<&str>,
    ) -> StoreResult<Vec<String>>;

    /// Every response stored as `in_progress` (start-up recovery).
    async fn in_progress(&self) -> StoreResult<Vec<InProgress>>;

    /// Stores the ended state of a response whose owner went away, and (a
    /// background one) the closing frame of its event log, all or nothing.
    async fn settle_interrupted(
        &self,
        response: &ResponseObject,
        closing_frame: Option<(u64, String)>,
    ) -> StoreResult<()>;

    /// The sequence number the next frame of a response's event log takes.
    async fn next_event_sequence(&self, response_id: &str) -> StoreResult<u64>;

    /// How many background responses wait for a worker.
    async fn count_queued(&self) -> StoreResult<usize>;

    /// Deletes the ended responses whose `expires_at` (Unix seconds) is
    /// before `now`, with their items and event log; how many.
    async fn delete_expired(&self, now: i64) -> StoreResult<u64>;
}

/// The turn a finished response belongs to (see [`ResponseStore::finish_response`]).
#[derive(Debug, Clone, Copy)]
pub struct Turn<'a> {
    /// The project that owns the response.
    pub project: &'a str,
    /// Its input items, as stored when it was inserted.
    pub input_items: &'a [Value],
}

/// A stored response as read back.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    /// The Response JSON.
    pub body: String,
    /// Its status (`in_progress`, `completed`, …).
    pub status: String,
    /// Whether it was created with `background: true`.
    pub background: bool,
}

/// What a new turn finds at `previous_response_id`.
#[derive(Debug, Clone, PartialEq)]
pub enum Continuation {
    /// No such response in the project.
    NotFound,
    /// It has not ended (its status).
    Unfinished(String),
    /// The chain's items as stored JSON text, oldest turn first: each turn's
    /// input items, then its output items.
    Chain(Vec<String>),
}

/// Which page of input items [`ResponseStore::list_input_items`] reads.
#[derive(Debug, Clone, Copy)]
pub struct InputItemsPage<'a> {
    pub project: &'a str,
    pub response_id: &'a str,
    /// The response it continues, whose chain comes first.
    pub previous_response_id: Option<&'a str>,
    /// Start after this item id.
    pub after: Option<&'a str>,
    pub limit: usize,
    pub descending: bool,
}

/// A queued background response claimed by a worker.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub response_id: String,
    pub project: String,
    /// The Response JSON as stored when it was queued.
    pub body: String,
    /// The prepared job (JSON) the worker runs.
    pub job: String,
    /// The worker's right to write to it.
    pub lease: Lease,
}

/// A response stored as `in_progress`.
#[derive(Debug, Clone)]
pub struct InProgress {
    pub id: String,
    /// The Response JSON.
    pub body: String,
    pub background: bool,
}

/// One page of input items (see [`ResponseStore::list_input_items`]) out of
/// `items` (the chain's, then the response's own, oldest first): in the
/// page's order, after the item `page.after` (an unknown one gives an empty
/// page), at most `page.limit`.
pub fn input_items_page(mut items: Vec<Value>, page: InputItemsPage<'_>) -> Page<Value> {
    if page.descending {
        items.reverse();
    }
    let start = match page.after {
        Some(after) => items
            .iter()
            .position(|item| item.get("id").and_then(Value::as_str) == Some(after))
            .map_or(items.len(), |index| index + 1),
        None => 0,
    };
    let remaining = &items[start.min(items.len())..];
    Page {
        has_more: remaining.len() > page.limit,
        items: remaining.iter().take(page.limit).cloned().collect(),
    }
}
