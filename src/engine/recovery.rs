//! Start-up recovery for the only process on its database: work that was
//! running when the process stopped has no owner any more. Responses left
//! `in_progress` end `failed` with a clear error (a background one's event
//! log closes with `response.failed`, so a client resuming it reaches a
//! terminal event); queued background responses wait for the workers;
//! conversation marks are cleared; runs left running fail and queued runs
//! start again (`http::runs::lifecycle::start`).
//!
//! Several processes on one shared database must not do this: "everything in
//! progress" includes a live replica's work. There, each piece of running work
//! is held under a lease ([`Lease`](crate::store::lease::Lease)) that its
//! owner renews while it runs; a replica recovers only work whose lease has
//! expired, takes it over with a higher fencing token (so the stalled owner's
//! late writes are refused), and ends it failed or runs it again when nothing
//! reached a client yet. Conversation marks carry the holder's lease too and
//! are released with it, not all at once.

use crate::store::error::StoreResult;
use crate::store::factory::Store;
use crate::stream::responses::interrupted;
use crate::stream::sse::response_event_frame;
use crate::wire::responses::object::{ResponseError, ResponseObject};

/// What start-up found and resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Responses that were running when the process stopped, now `failed`.
    pub interrupted: usize,
    /// Background responses still queued, left for the workers.
    pub queued: usize,
}

/// The message stored on responses a stop interrupted.
pub const INTERRUPTED_MESSAGE: &str =
    "The server stopped while this response was in progress; it did not finish. Create it again.";

/// Resolves the responses and conversation marks the previous run of this
/// process left behind (see the module doc). Call once, before serving.
pub async fn recover_responses(store: &Store) -> StoreResult<Recovery> {
    let mut recovery = Recovery::default();
    for running in store.responses.in_progress().await? {
        let Ok(response) = serde_json::from_str::<ResponseObject>(&running.body) else {
            tracing::warn!(response_id = %running.id, "unreadable stored response left in progress");
            continue;
        };
        let error = ResponseError {
            code: "server_error".into(),
            message: INTERRUPTED_MESSAGE.into(),
        };
        let next = if running.background {
            store.responses.next_event_sequence(&running.id).await?
        } else {
            0
        };
        let event = interrupted(response, error, next);
        let closing_frame = running.background.then(|| {
            let frame = response_event_frame(&event);
            (next, String::from_utf8_lossy(&frame).into_owned())
        });
        if let Some(response) = event.terminal_response() {
            store
                .responses
                .settle_interrupted(response, closing_frame)
                .await?;
            recovery.interrupted += 1;
        }
    }
    recovery.queued = store.responses.count_queued().await?;
    store.conversations.clear_all_locks().await?;
    Ok(recovery)
}
