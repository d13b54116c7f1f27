//! The workers that run queued background responses: each waits to be woken
//! (or polls), claims a queued job from SQLite, and runs it through the engine.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use crate::backends::backend::Backend;
use crate::backends::error::BackendError;
use crate::backends::scripted::ScriptedBackend;
use crate::coordination::Work;
use crate::engine::prepared::PreparedResponse;
use crate::engine::run::{run_response, Opened};
use crate::engine::sink::Sink;
use crate::engine::state::AppState;
use crate::store::responses::ClaimedJob;
use crate::wire::chat_events::ChatRequest;
use crate::wire::responses::object::ResponseObject;

use crate::background::Job;

/// Starts `count` workers that run queued responses until the process ends.
pub fn spawn(state: &AppState, count: usize) {
    for _ in 0..count.max(1) {
        let state = state.clone();
        tokio::spawn(async move { work(state).await });
    }
}

async fn work(state: AppState) {
    loop {
        match state
            .store
            .responses
            .claim_next(state.coordinator.replica())
            .await
        {
            Ok(Some(claimed)) => {
                run_claimed(&state, claimed).await;
                // Another job may be waiting: let the next idle worker look too.
                state.coordinator.wake_workers();
            }
            Ok(None) => {
                state
                    .coordinator
                    .wait_for_work(Duration::from_secs(1))
                    .await
            }
            Err(error) => {
                tracing::error!(%error, "could not claim background work");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn run_claimed(state: &AppState, claimed: ClaimedJob) {
    let response_id = claimed.response_id.clone();
    let (Ok(response), Ok(job)) = (
        serde_json::from_str::<ResponseObject>(&claimed.body),
        serde_json::from_str::<Job>(&claimed.job),
    ) else {
        tracing::error!(%response_id, "unreadable background job");
        return;
    };
    let live = state.coordinator.live(Work::Response(&response_id));
    let mut cancel = live.cancel_signal();
    let resolved = state.backends.resolve(&response.model);
    let backend: Arc<dyn Backend> = resolved
        .clone()
        .unwrap_or_else(|| Arc::new(ScriptedBackend::new("unavailable", Vec::new())));
    let opened: Opened = match resolved {
        None => Err(BackendError::Unreachable(format!(
            "no backend serves the model {}",
            response.model
        ))),
        Some(backend) => tokio::select! {
            opened = open(state, backend, job.chat.clone()) => opened,
            _ = cancel.wait_for(|requested| *requested) => Err(BackendError::Stream("cancelled".into())),
        },
    };
    let key_id = job.key_id.clone();
    let project = claimed.project.clone();
    let prepared = PreparedResponse {
        response: Box::new(response),
        input_items: job.input_items,
        chat: job.chat,
        backend,
        project: claimed.project,
        reasoning_as_summary: job.reasoning_as_summary,
        obfuscate: job.obfuscate,
        conversation: job.conversation,
        lease: Some(claimed.lease),
        stored_once_finished: false,
        streamed: true,
    };
    let sink = Sink::background(
        live,
        state.store.responses.clone(),
        prepared.lease.clone(),
        response_id.clone(),
    );
    run_response(
        state.store.clone(),
        Box::new(prepared),
        opened,
        sink,
        Some(cancel),
    )
    .await;
    crate::engine::metered::record_background(state, &project, &response_id, key_id.as_deref())
        .await;
    state.coordinator.forget_live(Work::Response(&response_id));
}

/// Opens the backend stream (through the generation cache) and reads its first event.
async fn open(state: &AppState, backend: Arc<dyn Backend>, chat: ChatRequest) -> Opened {
    let call = state.metrics.backend_call(&chat.model, backend.name());
    let opened = state.cache.stream(backend.clone(), chat).await;
    call.attempted(&*backend);
    let (stream, outcome) = opened.map_err(|error| call.failed(error))?;
    state.metrics.record_cache(outcome);
    let mut stream = crate::metrics::backend_call::observe_unless_cached(call, stream, outcome);
    let first = stream.next().await;
    Ok((first, stream))
}
