//! The engine: the only place that knows OpenAI semantics. `prepare` turns a
//! validated Responses request plus its stored chain into a chat request for a
//! backend; `start` opens the backend stream (failing as a plain HTTP error if
//! the backend fails before its first event), stores the response and hands the
//! rest to a task (`run`) that feeds the event grammar, persists the final object
//! before the terminal event leaves, and keeps going if the client disconnects.

pub mod chat;
pub mod failures;
pub mod history;
pub mod input;
pub mod metered;
pub mod prepared;
pub mod recovery;
pub mod retention;
pub mod run;
pub mod runs;
pub mod sink;
pub mod state;
pub mod tool_pairs;
pub mod workers;

pub use failures::{backend_error, Endpoint, FailedCall};
use prepared::{release_conversation, unlock_conversation, PreparedResponse};

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::backends::error::BackendError;
use crate::engine::state::AppState;
use crate::store::conversations::{ConversationStore, LockOutcome};
use crate::store::responses::ResponseStore;
use crate::stream::ResponseStreamEvent;
use crate::wire::error::{ApiError, ApiResult};
use crate::wire::ids::{new_id, unix_now};
use crate::wire::responses::defaults::response_from_request;
use crate::wire::responses::object::{ResponseObject, ResponseStatus};
use crate::wire::responses::request::CreateResponseRequest;

/// Validates references, rebuilds the chain's history and builds the chat request.
pub async fn prepare(
    state: &AppState,
    project: &str,
    request: CreateResponseRequest,
) -> ApiResult<PreparedResponse> {
    let model = request.model.clone().unwrap_or_default();
    let backend = state
        .backends
        .resolve(&model)
        .ok_or_else(|| ApiError::responses_model_not_found(&model))?;
    let gathered = input::gather(state, project, &request).await?;
    // Only a turn the model answers needs its calls answered (not a count or a compaction).
    tool_pairs::check_tool_call_pairs(&gathered.history)?;
    let response_id = new_id("resp_");
    if let Some(conversation_id) = &gathered.conversation {
        match state
            .store
            .conversations
            .try_lock(project, conversation_id, &response_id)
            .await?
        {
            LockOutcome::Locked => {}
            LockOutcome::Busy => {
                return Err(crate::wire::conversations::object::conversation_locked())
            }
            LockOutcome::NotFound => {
                return Err(crate::wire::conversations::object::conversation_not_found(
                    conversation_id,
                ))
            }
        }
    }
    let chat = input::chat_request(&model, &request, &gathered.history);
    let input::ModelInput {
        input_items,
        conversation,
        ..
    } = gathered;
    let reasoning_as_summary = request
        .reasoning
        .as_ref()
        .and_then(|reasoning| reasoning.get("summary"))
        .is_some_and(|summary| summary.is_string());
    let obfuscate = request
        .stream_options
        .as_ref()
        .and_then(|options| options.get("include_obfuscation"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mut response = response_from_request(response_id, unix_now(), &request);
    response.conversation = conversation
        .as_ref()
        .map(|id| serde_json::json!({"id": id}));
    Ok(PreparedResponse {
        response: Box::new(response),
        input_items,
        chat,
        backend,
        project: project.to_owned(),
        reasoning_as_summary,
        obfuscate,
        conversation,
        lease: None,
        stored_once_finished: !request.stream.unwrap_or(false)
            && !request.background.unwrap_or(false),
        streamed: request.stream.unwrap_or(false),
    })
}

/// Work that must still happen if the request is dropped (its client left)
/// before someone else takes it over: spawned on drop unless disarmed.
struct IfDropped(Option<BoxFuture<'static, ()>>);

impl IfDropped {
    fn armed(cleanup: impl Future<Output = ()> + Send + 'static) -> Self {
        Self(Some(Box::pin(cleanup)))
    }

    /// Someone else does it now, or it is no longer needed.
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for IfDropped {
    fn drop(&mut self) {
        if let (Some(cleanup), Ok(runtime)) = (self.0.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(cleanup);
        }
    }
}

/// Releases a response's conversation if the request is dropped before the
/// response's task takes it over.
fn conversation_hold(
    conversations: &Arc<dyn ConversationStore>,
    prepared: &PreparedResponse,
) -> IfDropped {
    let Some(conversation_id) = prepared.conversation.clone() else {
        return IfDropped(None);
    };
    let (conversations, project, response_id) = (
        conversations.clone(),
        prepared.project.clone(),
        prepared.response.id.clone(),
    );
    IfDropped::armed(async move {
        unlock_conversation(&*conversations, &project, &conversation_id, &response_id).await;
    })
}

/// Discards a response's row if the request is dropped while the row is
/// being inserted: the store's writer completes the insert anyway, and no task
/// will ever run or finish the response. The discard is queued to the writer
/// after the insert.
fn unstarted_response(responses: &Arc<dyn ResponseStore>, response_id: &str) -> IfDropped {
    let (responses, response_id) = (responses.clone(), response_id.to_owned());
    IfDropped::armed(async move {
        if let Err(error) = responses.discard_unstarted(&response_id).await {
            tracing::error!(%error, %response_id, "could not discard a response that never started");
        }
    })
}

/// Stores a background response as `queued` together with the job a worker
/// will run, in one transaction, before the client hears of it; then wakes a
/// worker. Returns the queued response.
pub async fn enqueue(state: &AppState, prepared: PreparedResponse) -> ApiResult<ResponseObject> {
    let mut response = ResponseObject::clone(&prepared.response);
    response.status = ResponseStatus::Queued;
    let job = serde_json::to_value(crate::background::Job {
        chat: prepared.chat.clone(),
        reasoning_as_summary: prepared.reasoning_as_summary,
        obfuscate: prepared.obfuscate,
        conversation: prepared.conversation.clone(),
        input_items: prepared.input_items.clone(),
        key_id: crate::inflight::current_key(),
    })?;
    // Followers may attach before a worker claims the job.
    state.coordinator.expect_queued(&response.id);
    state
        .store
        .responses
        .insert_response(
            state.coordinator.replica(),
            &prepared.project,
            &response,
            &prepared.input_items,
            Some(&job),
        )
        .await?;
    crate::engine::metered::track_background(state, &prepared.project, &response).await;
    state.coordinator.wake_workers();
    Ok(response)
}

/// The events of a started response (terminal event last) and how its
/// generation was obtained.
pub type Started = (
    mpsc::Receiver<Box<ResponseStreamEvent>>,
    crate::cache::CacheOutcome,
);

/// Opens the backend stream (through the generation cache), stores the new
/// response, and starts the task that runs it.
///
/// A whole answer (the client does not stream) is waited for in a task of its
/// own, carrying the request's caller, context and span: a client that leaves
/// meanwhile does not stop the response, which completes and is stored, as a
/// stream's does once it has started.
pub async fn start(state: &AppState, prepared: PreparedResponse) -> ApiResult<Started> {
    if !prepared.chat.whole_answer {
        return open_and_run(state.clone(), prepared).await;
    }
    let caller = crate::inflight::CallerScope {
        project: prepared.project.clone(),
        key_id: crate::inflight::current_key(),
    };
    let work = crate::inflight::scope(caller, open_and_run(state.clone(), prepared));
    let work: futures::future::BoxFuture<'static, ApiResult<Started>> =
        match crate::observe::context::RequestContext::current() {
            Some(context) => Box::pin(context.scope(work)),
            None => Box::pin(work),
        };
    tokio::spawn(tracing::Instrument::in_current_span(work))
        .await
        .map_err(|error| ApiError::Internal(format!("the response's start failed: {error}")))?
}

async fn open_and_run(state: AppState, mut prepared: PreparedResponse) -> ApiResult<Started> {
    let state = &state;
    // A client that leaves while a stream's first event is awaited drops
    // this phase: its conversation must not stay locked.
    let mut hold = conversation_hold(&state.store.conversations, &prepared);
    // In flight from here (the kill switch stops it): a whole answer is read
    // in this phase, which can last the whole generation.
    let registration = state.access.inflight.register(
        &prepared.project,
        crate::inflight::current_key(),
        crate::inflight::Kind::Response,
    );
    let mut killed = registration.cancel.clone();
    // Read the first event before answering 200, so early failures are HTTP errors.
    let opening = async {
        let call = state
            .metrics
            .backend_call(&prepared.chat.model, prepared.backend.name());
        let opened = state
            .cache
            .stream(prepared.backend.clone(), prepared.chat.clone())
            .await;
        call.attempted(&*prepared.backend);
        match opened {
            Ok((stream, outcome)) => {
                state.metrics.record_cache(outcome);
                let mut stream =
                    crate::metrics::backend_call::observe_unless_cached(call, stream, outcome);
                match stream.next().await {
                    Some(Err(error)) => Err(error),
                    first => Ok((first, stream, outcome)),
                }
            }
            Err(error) => Err(call.failed(error)),
        }
    };
    // Stopped by the kill switch: the gate answers with the suspension error.
    let opened = tokio::select! {
        opened = opening => opened,
        Ok(_) = killed.wait_for(|killed| *killed) => {
            Err(BackendError::Stream("stopped by the kill switch".into()))
        }
    };
    let (first, stream, outcome) = match opened {
        Ok(opened) => opened,
        Err(error) => {
            hold.disarm();
            release_conversation(&*state.store.conversations, &prepared).await;
            return Err(backend_error(
                FailedCall::new(
                    Endpoint::Responses,
                    &prepared.chat.model,
                    prepared.backend.name(),
                ),
                error,
            ));
        }
    };
    let mut response = prepared.response.clone();
    response.status = ResponseStatus::InProgress;
    if response.store && !prepared.stored_once_finished {
        let mut unstarted = unstarted_response(&state.store.responses, &response.id);
        let inserted = state
            .store
            .responses
            .insert_response(
                state.coordinator.replica(),
                &prepared.project,
                &response,
                &prepared.input_items,
                None,
            )
            .await;
        unstarted.disarm();
        prepared.lease = Some(inserted?);
    }
    // The response's task releases the conversation when it ends.
    hold.disarm();
    // Metered (token limits), still in flight until it ends.
    let receiver = crate::engine::metered::spawn_foreground(
        state,
        prepared,
        registration,
        Ok((first, stream)),
    );
    Ok((receiver, outcome))
}
