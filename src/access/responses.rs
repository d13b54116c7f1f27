//! Responses under the control plane: `engine::start` hands a foreground
//! response here to run, registered in flight under its project and key with
//! the cancel signal `run_response` watches, and metered: its tokens are
//! counted when its terminal event passes (before the client sees it, so the
//! client's next request sees them). `engine::enqueue` tells us of a
//! background response: it is remembered with its key (for the key's kill
//! switch), cancelled at once if its project or key was suspended meanwhile,
//! and its tokens are counted when it ends. `record_usage` counts work that
//! ends elsewhere (an Assistants run) against its creator's key.

use tokio::sync::mpsc;

use crate::engine::run::{run_response, Opened};
use crate::engine::sink::Sink;
use crate::engine::PreparedResponse;
use crate::inflight::{current_key, Kind};
use crate::responses::object::{ResponseObject, ResponseStatus};
use crate::state::AppState;
use crate::stream::ResponseStreamEvent;

fn total_tokens(response: &ResponseObject) -> u64 {
    response
        .usage
        .as_ref()
        .map_or(0, |usage| usage.total_tokens)
}

fn terminal_response(event: &ResponseStreamEvent) -> Option<&ResponseObject> {
    match event {
        ResponseStreamEvent::Completed { response, .. }
        | ResponseStreamEvent::Incomplete { response, .. }
        | ResponseStreamEvent::Failed { response, .. } => Some(response),
        _ => None,
    }
}

/// Runs a foreground response in its own task; returns its events.
pub fn spawn_foreground(
    state: &AppState,
    prepared: PreparedResponse,
    opened: Opened,
) -> mpsc::Receiver<ResponseStreamEvent> {
    let key_id = current_key();
    let project = prepared.project.clone();
    let registration = state
        .access
        .inflight
        .register(&project, key_id.clone(), Kind::Response);
    let limits = state.access.limits.clone();
    let db = state.db.clone();
    let (engine_sender, mut engine_events) = mpsc::channel(64);
    let (client_sender, client_events) = mpsc::channel(64);
    // In the request's span: its log lines carry the request id.
    let task = async move {
        let cancel = registration.cancel.clone();
        let run = run_response(
            db,
            prepared,
            opened,
            Sink::client(engine_sender),
            Some(cancel),
        );
        let forward = async {
            let mut counted = false;
            let mut client = Some(client_sender);
            while let Some(event) = engine_events.recv().await {
                if let Some(response) = terminal_response(&event) {
                    limits
                        .record(&project, key_id.as_deref(), total_tokens(response))
                        .await;
                    counted = true;
                }
                if let Some(sender) = &client {
                    if sender.send(event).await.is_err() {
                        client = None;
                    }
                }
            }
            counted
        };
        let (response, counted) = tokio::join!(run, forward);
        if !counted {
            limits
                .record(&project, key_id.as_deref(), total_tokens(&response))
                .await;
        }
        drop(registration);
    };
    tokio::spawn(tracing::Instrument::in_current_span(task));
    client_events
}

/// Takes note of a background response just queued (see the module doc).
pub async fn track_background(state: &AppState, project: &str, response_id: &str) {
    let key_id = current_key();
    let access = &state.access;
    if let Some(key_id) = &key_id {
        access.inflight.created(response_id, key_id.clone()).await;
    }
    let live = state.background.live.get_or_create(response_id);
    if access
        .inflight
        .suspension(project, key_id.as_deref())
        .is_some()
    {
        live.request_cancel();
    }
    let state = state.clone();
    let project = project.to_owned();
    let response_id = response_id.to_owned();
    tokio::spawn(async move {
        live.ended().await;
        let stored = crate::store::responses::get_response(&state.db, &project, &response_id).await;
        let response = stored
            .ok()
            .flatten()
            .and_then(|stored| serde_json::from_str::<ResponseObject>(&stored.body).ok());
        if let Some(response) =
            response.filter(|response| response.status != ResponseStatus::Queued)
        {
            state
                .access
                .limits
                .record(&project, key_id.as_deref(), total_tokens(&response))
                .await;
        }
    });
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
