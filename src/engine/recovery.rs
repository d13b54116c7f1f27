//! Recovering work whose process stopped.
//!
//! **The only process on its database** (SQLite), at start-up: work that was
//! running when the process stopped has no owner any more. Responses left
//! `in_progress` end `failed` with a clear error (a background one's event
//! log closes with `response.failed`, so a client resuming it reaches a
//! terminal event); queued background responses wait for the workers;
//! conversation marks are cleared; runs left running fail and queued runs
//! start again (`http::runs::lifecycle::start`).
//!
//! **Several processes on one database** (PostgreSQL) must not do that:
//! "everything in progress" includes a live replica's work. There, running
//! work is held under a lease ([`Lease`](crate::store::lease::Lease)) that
//! its owner renews every third of its length ([`keep_leases`]); every
//! process, at start-up and then as often, takes over only work whose lease
//! expired, with a higher fencing token, so the stalled owner's late writes
//! are refused (never two final states, tokens counted once), and ends it
//! `failed` with the same clear error. (Running it again instead would
//! repeat, for a client that may have read part of it, an answer that is
//! not deterministic: failed is the truthful end.) Conversation marks of
//! such responses are released with them; runs expire the same way; queued
//! runs that no process started by their deadline run here.

use std::time::Duration;

use crate::engine::state::AppState;
use crate::store::error::StoreResult;
use crate::store::factory::Store;
use crate::store::shared::{SharedStore, TakenOver};
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
/// process left behind (see the module doc). Call once, before serving; on a
/// shared database, only the expired leases are taken over.
pub async fn recover_responses(store: &Store, replica: &str) -> StoreResult<Recovery> {
    if let Some(shared) = &store.shared {
        let interrupted = take_over_expired(store, shared.as_ref(), replica).await?;
        return Ok(Recovery {
            interrupted,
            queued: store.responses.count_queued().await?,
        });
    }
    let mut recovery = Recovery::default();
    for running in store.responses.in_progress().await? {
        let taken = TakenOver {
            id: running.id,
            body: running.body,
            background: running.background,
            lease: crate::store::lease::Lease::sole_owner(),
        };
        if settle(store, taken).await? {
            recovery.interrupted += 1;
        }
    }
    recovery.queued = store.responses.count_queued().await?;
    store.conversations.clear_all_locks().await?;
    Ok(recovery)
}

/// Ends one interrupted response `failed`, closing a background one's event
/// log; false when its stored body is unreadable.
async fn settle(store: &Store, running: TakenOver) -> StoreResult<bool> {
    let Ok(response) = serde_json::from_str::<ResponseObject>(&running.body) else {
        tracing::warn!(response_id = %running.id, "unreadable stored response left in progress");
        return Ok(false);
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
    let Some(response) = event.terminal_response() else {
        return Ok(false);
    };
    store
        .responses
        .settle_interrupted(response, closing_frame)
        .await?;
    Ok(true)
}

/// Takes over and fails the responses whose lease expired; how many.
async fn take_over_expired(
    store: &Store,
    shared: &dyn SharedStore,
    replica: &str,
) -> StoreResult<usize> {
    let mut settled = 0;
    for taken in shared.take_over_expired_responses(replica).await? {
        let id = taken.id.clone();
        if settle(store, taken).await? {
            tracing::warn!(response_id = %id, "took over a response whose replica stopped; it failed");
            settled += 1;
        }
    }
    Ok(settled)
}

/// On a shared database: renews this process's leases every third of their
/// length, and takes over what other processes left when theirs expired
/// (responses, runs, conversation marks, runs never started). Runs until the
/// process ends.
pub fn keep_leases(state: &AppState) {
    let Some(shared) = state.store.shared.clone() else {
        return;
    };
    let state = state.clone();
    tokio::spawn(async move {
        let period = (shared.lease_length() / 3).max(Duration::from_millis(200));
        // Start-up has just done the first round (`recover_responses`,
        // `recover_runs`): the next one is a period away.
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            ticks.tick().await;
            if let Err(error) = keep_once(&state, shared.as_ref()).await {
                tracing::warn!(%error, "could not keep leases or recover expired work");
            }
        }
    });
}

async fn keep_once(state: &AppState, shared: &dyn SharedStore) -> StoreResult<()> {
    let replica = state.coordinator.replica();
    shared.renew_leases(replica).await?;
    take_over_expired(&state.store, shared, replica).await?;
    let now = crate::wire::ids::unix_now();
    for run_id in shared.fail_expired_runs(now).await? {
        tracing::warn!(%run_id, "a run's replica stopped; it failed");
    }
    for run_id in shared.stranded_queued_runs(now).await? {
        crate::engine::runs::run::spawn(state.clone(), run_id);
    }
    shared.release_stranded_locks(now).await?;
    Ok(())
}
