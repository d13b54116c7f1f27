//! The task that runs one response: it feeds the backend's chat events into the
//! grammar, sends every event to its sink, stops the upstream request when a
//! cancel arrives, and stores the final object and output items before the
//! terminal event is sent, so a chained call that follows at once sees this turn.

use futures::StreamExt;
use tokio::sync::watch;

use crate::backends::backend::ChatEventStream;
use crate::backends::error::BackendError;
use crate::store::conversations::ConversationStore;
use crate::store::factory::Store;
use crate::store::responses::Turn;
use crate::stream::ResponseStreamBuilder;
use crate::wire::chat_events::estimate_tokens;
use crate::wire::chat_events::{ChatEvent, FinishReason, TokenUsage};
use crate::wire::ids::unix_now;
use crate::wire::responses::object::{
    ContentPart, OutputItem, ResponseError, ResponseObject, ResponseStatus,
};

use super::failures::{generation_failed, response_error, unsaved_error};
use super::prepared::PreparedResponse;
use super::sink::Sink;
use crate::stream::responses::interrupted;

/// Returns when a cancel is asked (never without a signal).
async fn cancel_requested(cancel: &mut Option<watch::Receiver<bool>>) {
    match cancel {
        Some(signal) => {
            let _ = signal.wait_for(|requested| *requested).await;
        }
        None => std::future::pending().await,
    }
}

/// Returns at `deadline` (never without one).
async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The backend's answer once opened: its first event (already read) and the rest.
pub type Opened = Result<(Option<Result<ChatEvent, BackendError>>, ChatEventStream), BackendError>;

/// Runs a response to its end and returns the final object. Background
/// responses announce themselves as queued first; a `cancel` signal stops the
/// upstream request and ends the response as `cancelled`. `prepared` comes
/// boxed: a future keeps its arguments twice (as given and as locals), which
/// for 1.5 KB of prepared response is memory every open stream pays.
pub async fn run_response(
    store: Store,
    mut prepared: Box<PreparedResponse>,
    opened: Opened,
    mut sink: Sink,
    mut cancel: Option<watch::Receiver<bool>>,
) -> ResponseObject {
    // The builder's copy is the response from here on: moved, not cloned, so
    // that an open stream does not hold it twice (what stays is its id).
    let background = prepared.response.background;
    // The input items are kept for the store and the conversation only.
    if !(prepared.response.store || background) && prepared.conversation.is_none() {
        prepared.input_items = Vec::new();
    }
    let placeholder = Box::new(ResponseObject {
        id: prepared.response.id.clone(),
        ..ResponseObject::default()
    });
    let mut builder = ResponseStreamBuilder::new(
        std::mem::replace(&mut prepared.response, placeholder),
        prepared.reasoning_as_summary,
        prepared.obfuscate,
    );
    if background {
        let events = builder.queue().unwrap_or_default();
        sink.emit(events, &builder).await;
    }
    let events = builder.start().unwrap_or_default();
    sink.emit(events, &builder).await;
    let mut finish = None;
    let mut usage = None;
    let mut failure = None;
    let mut cancelled = false;
    match opened {
        Err(_) if cancel.as_ref().is_some_and(|signal| *signal.borrow()) => cancelled = true,
        Err(error) => {
            tracing::warn!(backend = prepared.backend.name(), %error, "backend failed before the first token");
            failure = Some(response_error(
                prepared.backend.name(),
                &prepared.chat.model,
                &error,
            ));
        }
        Ok((first, mut stream)) => {
            let mut next = first;
            while let Some(item) = next {
                match item {
                    Ok(ChatEvent::Finish(reason)) => finish = Some(reason),
                    Ok(ChatEvent::Usage(reported)) => usage = Some(reported),
                    Ok(event) => match builder.apply(&event) {
                        Ok(events) => sink.emit(events, &builder).await,
                        Err(error) => {
                            tracing::warn!(backend = prepared.backend.name(), %error, "the backend's answer broke the event grammar");
                            failure = Some(generation_failed());
                            break;
                        }
                    },
                    Err(error) => {
                        tracing::warn!(backend = prepared.backend.name(), %error, "backend failed mid-stream");
                        failure = Some(response_error(
                            prepared.backend.name(),
                            &prepared.chat.model,
                            &error,
                        ));
                        break;
                    }
                }
                // Waiting for the backend, buffered frames are still written
                // on time (followers elsewhere read the event log).
                next = loop {
                    let deadline = sink.flush_deadline();
                    tokio::select! {
                        item = stream.next() => break item,
                        () = cancel_requested(&mut cancel) => { cancelled = true; break None }
                        () = until(deadline) => sink.flush().await,
                    }
                };
            }
            // Closes the upstream request now, not when the task ends.
            drop(stream);
        }
    }
    let usage =
        usage.unwrap_or_else(|| estimated_usage(&prepared, builder.response().output.as_slice()));
    let terminal = if cancelled {
        builder.cancel()
    } else {
        match failure {
            Some((code, message)) => {
                builder.fail(ResponseError { code, message }, Some(usage.into()))
            }
            None => {
                let incomplete_reason = match finish {
                    Some(FinishReason::Length) => Some("max_output_tokens"),
                    Some(FinishReason::ContentFilter) => Some("content_filter"),
                    _ => None,
                };
                builder.finish(usage.into(), incomplete_reason, unix_now())
            }
        }
    };
    let mut terminal = terminal.unwrap_or_else(|error| {
        tracing::error!(%error, "grammar refused the terminal event");
        Vec::new()
    });
    let response = builder.response();
    // The store's futures are boxed (here and below): awaited inline, their
    // state would be reserved in every running response's task for its whole
    // life, streaming included (see benches/RESULTS.md, memory per stream).
    if response.store || response.background {
        let turn = Turn {
            project: &prepared.project,
            input_items: &prepared.input_items,
        };
        let stored = match &prepared.lease {
            _ if prepared.stored_once_finished => {
                store
                    .responses
                    .insert_finished_response(turn.project, response, turn.input_items)
                    .await
            }
            Some(lease) => store.responses.finish_response(lease, response, turn).await,
            None => Err(crate::store::error::StoreError::Database(
                "a stored response ran without a lease".into(),
            )),
        };
        if let Err(error) = stored {
            tracing::error!(%error, response_id = %response.id, "could not store the finished response");
            // Not answered as done: a chained call could not find it.
            if let Some(last) = terminal.pop() {
                terminal.push(match last.terminal_response() {
                    Some(done) => {
                        interrupted(done.clone(), unsaved_error(), last.sequence_number())
                    }
                    None => last,
                });
            }
            // Its row, if it has one, must not stay in progress for ever.
            if let (Some(lease), Some(unsaved)) = (
                prepared.lease.clone(),
                terminal.last().and_then(|last| last.terminal_response()),
            ) {
                tokio::spawn(save_later(
                    store.clone(),
                    lease,
                    unsaved.clone(),
                    prepared.project.clone(),
                ));
            }
        }
    }
    Box::pin(append_to_conversation(
        &*store.conversations,
        &prepared,
        response,
    ))
    .await;
    let ended = terminal
        .last()
        .and_then(|last| last.terminal_response().cloned())
        .unwrap_or_else(|| builder.response().clone());
    sink.emit(terminal, &builder).await;
    sink.close().await;
    ended
}

/// Stores the failed end of a response whose end could not be saved, once
/// the database is back (every second, for up to ten minutes; if this
/// process stops first, its lease expires and another process fails it).
async fn save_later(
    store: Store,
    lease: crate::store::lease::Lease,
    unsaved: ResponseObject,
    project: String,
) {
    let turn = Turn {
        project: &project,
        input_items: &[],
    };
    for _ in 0..600 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        match store
            .responses
            .finish_response(&lease, &unsaved, turn)
            .await
        {
            Ok(()) => return,
            Err(crate::store::error::StoreError::Unavailable(_)) => continue,
            Err(error) => {
                tracing::error!(%error, response_id = %unsaved.id, "could not save a response's failed end");
                return;
            }
        }
    }
}

/// A conversation gets the turn's input and output items when the response
/// completes (or stops at its token limit), before the client sees the end;
/// then the conversation is free for the next response.
async fn append_to_conversation(
    conversations: &dyn ConversationStore,
    prepared: &PreparedResponse,
    response: &ResponseObject,
) {
    let Some(conversation_id) = &prepared.conversation else {
        return;
    };
    if matches!(
        response.status,
        ResponseStatus::Completed | ResponseStatus::Incomplete
    ) {
        let mut items = prepared.input_items.clone();
        items.extend(
            response
                .output
                .iter()
                .filter_map(|item| serde_json::to_value(item).ok()),
        );
        if let Err(error) = conversations
            .append_items(&prepared.project, conversation_id, &items)
            .await
        {
            tracing::error!(%error, %conversation_id, "could not append the turn to its conversation");
        }
    }
    super::prepared::release_conversation(conversations, prepared).await;
}

/// Usage for backends that report none: about four characters a token.
fn estimated_usage(prepared: &PreparedResponse, output: &[OutputItem]) -> TokenUsage {
    let prompt = serde_json::to_string(&prepared.chat.messages).unwrap_or_default();
    let completion: String = output
        .iter()
        .map(|item| match item {
            OutputItem::Message { content, .. } => content
                .iter()
                .map(|part| match part {
                    ContentPart::OutputText { text, .. } | ContentPart::ReasoningText { text } => {
                        text.as_str()
                    }
                    ContentPart::Refusal { refusal } => refusal.as_str(),
                })
                .collect::<String>(),
            OutputItem::FunctionCall {
                arguments, name, ..
            } => format!("{name}{arguments}"),
            OutputItem::Reasoning { .. } => String::new(),
        })
        .collect();
    TokenUsage {
        prompt_tokens: estimate_tokens(&prompt),
        completion_tokens: estimate_tokens(&completion),
        ..TokenUsage::default()
    }
}
