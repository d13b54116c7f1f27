//! Responses under the control plane: `engine::start` hands a foreground
//! response here to run, registered in flight under its project and key with
//! the cancel signal `run_response` watches, and metered: its tokens are
//! counted when its terminal event passes (before the client sees it, so the
//! client's next request sees them). `engine::enqueue` tells us of a
//! background response: it is remembered with its key (for the key's kill
//! switch) and cancelled at once if its project or key was suspended
//! meanwhile; the worker that runs it counts its tokens when it ends
//! (`record_background`). `record_usage` counts work that
//! ends elsewhere (an Assistants run) against its creator's key.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::coordination::Work;
use crate::engine::prepared::PreparedResponse;
use crate::engine::run::{run_response, Opened};
use crate::engine::sink::{BeforeTerminal, Sink};
use crate::engine::state::AppState;
use crate::inflight::{current_key, Registration};
use crate::stream::ResponseStreamEvent;
use crate::wire::responses::object::{ResponseObject, ResponseStatus};

fn total_tokens(response: &ResponseObject) -> u64 {
    response
        .usage
        .as_ref()
        .map_or(0, |usage| usage.total_tokens)
}

/// Runs a foreground response in its own task, in flight as `registration`
/// (made when its backend call started); returns its events.
pub fn spawn_foreground(
    state: &AppState,
    prepared: PreparedResponse,
    registration: Registration,
    opened: Opened,
) -> mpsc::Receiver<Box<ResponseStreamEvent>> {
    let key_id = current_key();
    let project = prepared.project.clone();
    let limits = state.access.limits.clone();
    let store = state.store.clone();
    let streamed = prepared.streamed;
    let prepared = Box::new(prepared);
    let (client_sender, client_events) = mpsc::channel(64);
    let counted = Arc::new(AtomicBool::new(false));
    let meter: BeforeTerminal = {
        let (limits, project, key_id, counted) = (
            limits.clone(),
            project.clone(),
            key_id.clone(),
            counted.clone(),
        );
        Box::new(move |response: &ResponseObject| {
            let tokens = total_tokens(response);
            Box::pin(async move {
                limits.record(&project, key_id.as_deref(), tokens).await;
                counted.store(true, Ordering::Relaxed);
            })
        })
    };
    // In the request's span: its log lines carry the request id.
    let task = async move {
        let cancel = registration.cancel.clone();
        let sink = Sink::client(client_sender, Some(meter)).terminal_only(!streamed);
        let response = run_response(store, prepared, opened, sink, Some(cancel)).await;
        // Cancelled responses end without a terminal event: counted here.
        if !counted.load(Ordering::Relaxed) {
            Box::pin(limits.record(&project, key_id.as_deref(), total_tokens(&response))).await;
        }
        drop(registration);
    };
    tokio::spawn(tracing::Instrument::in_current_span(task));
    client_events
}

/// Takes note of a background response just queued (see the module doc).
pub async fn track_background(state: &AppState, project: &str, queued: &ResponseObject) {
    let key_id = current_key();
    if let Some(key_id) = &key_id {
        state
            .access
            .inflight
            .created(&queued.id, key_id.clone())
            .await;
    }
    if state
        .coordinator
        .suspension(project, key_id.as_deref())
        .is_none()
    {
        return;
    }
    // Suspended since the gate let it in: it never runs.
    let mut cancelled = queued.clone();
    cancelled.status = ResponseStatus::Cancelled;
    match state.store.responses.cancel_if_queued(&cancelled).await {
        Ok(_) => {
            if let Some(live) = state.coordinator.find_live(Work::Response(&queued.id)) {
                live.finish();
                state.coordinator.forget_live(Work::Response(&queued.id));
            }
        }
        Err(error) => {
            tracing::error!(%error, response_id = %queued.id, "could not cancel a suspended key's response")
        }
    }
}

/// Counts the tokens of a background response that ended here, against its
/// project's day and its creating key (`key_id`, from its job): the process
/// that ran it counts it, once.
pub async fn record_background(
    state: &AppState,
    project: &str,
    response_id: &str,
    key_id: Option<&str>,
) {
    let stored = state
        .store
        .responses
        .get_response(project, response_id)
        .await;
    let response = stored
        .ok()
        .flatten()
        .and_then(|stored| serde_json::from_str::<ResponseObject>(&stored.body).ok());
    if let Some(response) = response.filter(|response| response.status != ResponseStatus::Queued) {
        state
            .access
            .limits
            .record(project, key_id, total_tokens(&response))
            .await;
    }
}

/// Counts the tokens of another piece of work that finished (an Assistants
/// run's segment): against its project's day, and its creating key's token
/// limit when the key is known. One call where the work ends is enough.
pub async fn record_usage(state: &AppState, project: &str, object_id: &str, tokens: u64) {
    let key_id = state.access.inflight.creator_of(object_id).await;
    state
        .access
        .limits
        .record(project, key_id.as_deref(), tokens)
        .await;
}
