//! The task that executes one segment of a run: claim it, build the chat
//! request, stream the backend's answer through the grammar, store every run,
//! step and message the grammar emits before its frame is published, stop the
//! backend request when a cancel arrives, and end the segment in
//! `requires_action` or a terminal status.

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::watch;

use crate::backends::backend::ChatEventStream;
use crate::backends::error::BackendError;
use crate::backends::fault::Fault;
use crate::coordination::live::LiveResponse;
use crate::coordination::Work;
use crate::engine::failures::response_error;
use crate::engine::state::AppState;
use crate::store::assistants::{AssistantStore, Kind, Placement};
use crate::store::error::StoreResult;
use crate::store::lease::Lease;
use crate::stream::assistants::{AssistantStreamEvent, RunEnd, RunStreamBuilder};
use crate::stream::GrammarError;
use crate::wire::chat_events::estimate_tokens;
use crate::wire::chat_events::{ChatEvent, FinishReason, TokenUsage};
use crate::wire::ids::unix_now;

use crate::engine::runs::history::{chat_request, Prepared};
use crate::wire::runs::object::add_usage;
use crate::wire::runs::object::{RunJob, RunStepObject};

/// Starts the task that executes the run's next segment.
pub fn spawn(state: AppState, run_id: String) {
    tokio::spawn(async move {
        execute(state.clone(), run_id.clone()).await;
        // A thread deleted while this segment ran: what it wrote after the
        // deletion belongs to nothing.
        if let Err(error) = state
            .store
            .assistants
            .delete_rows_of_deleted_thread(&run_id)
            .await
        {
            tracing::warn!(%error, %run_id, "could not clean up after a deleted thread");
        }
    });
}

/// Where a segment's events go: the store, then the live buffer.
struct Segment {
    assistants: Arc<dyn AssistantStore>,
    /// The executor's right to write the run, its steps and messages.
    lease: Lease,
    project: String,
    job: RunJob,
    live: Arc<LiveResponse>,
}

impl Segment {
    async fn emit(&mut self, events: Vec<AssistantStreamEvent>) {
        for event in &events {
            if let Err(error) = self.store(event).await {
                tracing::error!(%error, "could not store a run's progress");
            }
        }
        self.live.publish(
            events.iter().map(AssistantStreamEvent::frame).collect(),
            None,
        );
    }

    async fn store(&self, event: &AssistantStreamEvent) -> StoreResult<()> {
        match event {
            AssistantStreamEvent::Run(_, run) => {
                self.assistants
                    .save_run(&self.lease, &self.project, run, Some(&self.job))
                    .await
            }
            AssistantStreamEvent::Step(_, step) => self.store_step(step).await,
            AssistantStreamEvent::Message(_, message) => {
                let placement = Placement {
                    thread_id: Some(&message.thread_id),
                    run_id: message.run_id.as_deref(),
                    status: Some(&message.status),
                    expires_at: None,
                };
                self.assistants
                    .upsert(
                        Some(&self.lease),
                        &self.project,
                        Kind::Message,
                        &message.id,
                        placement,
                        message,
                    )
                    .await
            }
            _ => Ok(()),
        }
    }
}

/// How the backend's answer went.
#[derive(Debug, Default)]
struct Outcome {
    finish: Option<FinishReason>,
    usage: Option<TokenUsage>,
    failure: Option<(String, String)>,
    cancelled: bool,
    /// The run ends `incomplete` before asking the backend, for this reason.
    incomplete: Option<&'static str>,
    completion_text: String,
}

async fn execute(state: AppState, run_id: String) {
    let claimed = match state
        .store
        .assistants
        .claim_run(state.coordinator.replica(), &run_id)
        .await
    {
        Ok(Some(claimed)) => claimed,
        Ok(None) => return,
        Err(error) => {
            tracing::error!(%error, %run_id, "could not claim a run");
            return;
        }
    };
    let live = state.coordinator.live(Work::Run(&run_id));
    let cancel = live.cancel_signal();
    let mut builder = RunStreamBuilder::new(claimed.run.clone());
    let mut segment = Segment {
        assistants: state.store.assistants.clone(),
        lease: claimed.lease,
        project: claimed.project.clone(),
        job: claimed.job,
        live: live.clone(),
    };
    let now = unix_now();
    let started = builder.start(now).unwrap_or_default();
    if claimed.cancel_requested || *cancel.borrow() {
        finish(
            &state,
            &mut segment,
            &mut builder,
            Outcome {
                cancelled: true,
                ..Outcome::default()
            },
            TokenUsage::default(),
        )
        .await;
        return;
    }
    segment.emit(started).await;
    let run = builder.run().clone();
    let history = async {
        let messages = state
            .store
            .assistants
            .thread_messages(&segment.project, &run.thread_id)
            .await?;
        let steps = state
            .store
            .assistants
            .run_steps(&segment.project, &run.id)
            .await?;
        Ok::<_, crate::store::error::StoreError>(chat_request(
            &run,
            &segment.job,
            &messages,
            &steps,
        ))
    };
    let chat = match history.await {
        Ok(Prepared::Chat(chat)) => *chat,
        Ok(Prepared::PromptTooLong) => {
            return end_incomplete(&state, &mut segment, &mut builder, "max_prompt_tokens").await
        }
        Ok(Prepared::CompletionBudgetSpent) => {
            return end_incomplete(&state, &mut segment, &mut builder, "max_completion_tokens")
                .await
        }
        Err(error) => {
            tracing::error!(%error, %run_id, "could not read a run's thread");
            let outcome = Outcome {
                failure: Some((
                    "server_error".into(),
                    "The run's thread could not be read.".into(),
                )),
                ..Outcome::default()
            };
            return finish(
                &state,
                &mut segment,
                &mut builder,
                outcome,
                TokenUsage::default(),
            )
            .await;
        }
    };
    let prompt_estimate =
        estimate_tokens(&serde_json::to_string(&chat.messages).unwrap_or_default());
    let outcome = match state.backends.resolve(&chat.model) {
        None => Outcome {
            failure: Some((
                "invalid_prompt".into(),
                format!("No backend serves the model '{}'.", chat.model),
            )),
            ..Outcome::default()
        },
        Some(backend) => {
            let name = backend.name().to_owned();
            let model = chat.model.clone();
            let call = state.metrics.backend_call(&chat.model, &name);
            let mut signal = cancel.clone();
            let opened = tokio::select! {
                opened = backend.stream_chat(chat) => Some(opened),
                _ = signal.wait_for(|requested| *requested) => None,
            };
            call.attempted(&*backend);
            match opened {
                None => Outcome {
                    cancelled: true,
                    ..Outcome::default()
                },
                Some(Err(error)) => backend_failure(&name, &model, &call.failed(error)),
                Some(Ok(stream)) => {
                    let stream = call.observe(stream);
                    consume(stream, &name, &model, &mut segment, &mut builder, cancel).await
                }
            }
        }
    };
    let estimated = TokenUsage {
        prompt_tokens: prompt_estimate,
        completion_tokens: estimate_tokens(&outcome.completion_text),
        ..TokenUsage::default()
    };
    let usage = outcome.usage.unwrap_or(estimated);
    finish(&state, &mut segment, &mut builder, outcome, usage).await;
}

/// Feeds the backend's events into the grammar until the answer ends, fails or is cancelled.
async fn consume(
    mut stream: ChatEventStream,
    backend: &str,
    model: &str,
    segment: &mut Segment,
    builder: &mut RunStreamBuilder,
    mut cancel: watch::Receiver<bool>,
) -> Outcome {
    let mut outcome = Outcome::default();
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = cancel.wait_for(|requested| *requested) => {
                outcome.cancelled = true;
                break;
            }
        };
        let Some(item) = next else { break };
        let now = unix_now();
        let applied: Result<Vec<AssistantStreamEvent>, GrammarError> = match item {
            Ok(ChatEvent::TextDelta(text)) | Ok(ChatEvent::RefusalDelta(text)) => {
                outcome.completion_text.push_str(&text);
                builder.text_delta(&text, now)
            }
            Ok(ChatEvent::ToolCallStart {
                index,
                call_id,
                name,
            }) => {
                outcome.completion_text.push_str(&name);
                builder.tool_call_start(index, &call_id, &name, now)
            }
            Ok(ChatEvent::ToolCallArguments { index, fragment }) => {
                outcome.completion_text.push_str(&fragment);
                builder.tool_call_arguments(index, &fragment)
            }
            Ok(ChatEvent::ReasoningDelta(_)) => Ok(Vec::new()),
            Ok(ChatEvent::Finish(reason)) => {
                outcome.finish = Some(reason);
                Ok(Vec::new())
            }
            Ok(ChatEvent::Usage(usage)) => {
                outcome.usage = Some(usage);
                Ok(Vec::new())
            }
            Err(error) => {
                let failed = backend_failure(backend, model, &error);
                outcome.failure = failed.failure;
                break;
            }
        };
        match applied {
            Ok(events) => segment.emit(events).await,
            Err(error) => {
                tracing::warn!(backend, %error, "the backend's answer broke the Assistants grammar");
                outcome.failure = Some((
                    "server_error".into(),
                    "The model's answer could not be read.".into(),
                ));
                break;
            }
        }
    }
    // Closes the upstream request now (a cancel stops the backend).
    drop(stream);
    outcome
}

/// A run's `last_error` for a backend failure: the client's mistakes (a
/// prompt over the context, a refused parameter) and rate limits in the words
/// a response's `error` uses (`engine::failures`), the rest as server errors.
fn backend_failure(backend: &str, model: &str, error: &BackendError) -> Outcome {
    tracing::warn!(backend, %error, "a run's backend failed");
    let failure = match error {
        BackendError::Status { fault, .. }
            if fault.is_client_mistake() || matches!(fault, Fault::RateLimited { .. }) =>
        {
            response_error(backend, model, error)
        }
        _ => {
            let detail = match error {
                BackendError::Status { status, .. } => format!("answered {status}"),
                BackendError::Unreachable(_) => "is unreachable".to_owned(),
                BackendError::Timeout(_) => "did not answer in time".to_owned(),
                BackendError::Stream(_) => "broke off its answer".to_owned(),
            };
            (
                "server_error".to_owned(),
                format!("The backend '{backend}' {detail}; the run did not finish."),
            )
        }
    };
    Outcome {
        failure: Some(failure),
        ..Outcome::default()
    }
}

async fn end_incomplete(
    state: &AppState,
    segment: &mut Segment,
    builder: &mut RunStreamBuilder,
    reason: &'static str,
) {
    let outcome = Outcome {
        incomplete: Some(reason),
        ..Outcome::default()
    };
    finish(state, segment, builder, outcome, TokenUsage::default()).await;
}

/// Ends the segment: stores the final state, publishes the last frames and `done`.
async fn finish(
    state: &AppState,
    segment: &mut Segment,
    builder: &mut RunStreamBuilder,
    outcome: Outcome,
    usage: TokenUsage,
) {
    let run_id = builder.run().id.clone();
    // Followers keep their handle; a new segment (after tool outputs) gets a fresh buffer.
    state.coordinator.forget_live(Work::Run(&run_id));
    let run_usage = add_usage(segment.job.usage, usage);
    // Runs count against their key's token limits and the project's daily budget.
    crate::engine::metered::record_usage(
        state,
        &segment.project,
        &run_id,
        usage.prompt_tokens + usage.completion_tokens,
    )
    .await;
    let now = unix_now();
    let events = if outcome.cancelled {
        builder.end(RunEnd::Cancelled, usage, run_usage, now)
    } else if let Some(reason) = outcome.incomplete {
        builder.end(RunEnd::Incomplete(reason), usage, run_usage, now)
    } else if let Some((code, message)) = outcome.failure {
        builder.end(RunEnd::Failed { code, message }, usage, run_usage, now)
    } else if outcome.finish == Some(FinishReason::Length) {
        builder.end(
            RunEnd::Incomplete("max_completion_tokens"),
            usage,
            run_usage,
            now,
        )
    } else if builder.has_tool_calls() {
        segment.job.pending_tool_usage = Some(usage);
        if let Some(step) = builder.open_tool_step().cloned() {
            segment.emit_quietly_step(&step).await;
        }
        builder.require_action()
    } else {
        builder.end(RunEnd::Completed, usage, run_usage, now)
    };
    segment.job.usage = run_usage;
    match events {
        Ok(events) => segment.emit(events).await,
        Err(error) => tracing::error!(%error, %run_id, "the grammar refused a run's end"),
    }
    segment.live.finish();
}

impl Segment {
    /// Stores a step without publishing a frame (the tool_calls step's calls at `requires_action`).
    async fn emit_quietly_step(&self, step: &RunStepObject) {
        if let Err(error) = self.store_step(step).await {
            tracing::error!(%error, "could not store a tool_calls step");
        }
    }

    /// Stores a step as its run's owner.
    async fn store_step(&self, step: &RunStepObject) -> StoreResult<()> {
        let placement = Placement {
            thread_id: Some(&step.thread_id),
            run_id: Some(&step.run_id),
            status: Some(&step.status),
            expires_at: None,
        };
        self.assistants
            .upsert(
                Some(&self.lease),
                &self.project,
                Kind::Step,
                &step.id,
                placement,
                step,
            )
            .await
    }
}
