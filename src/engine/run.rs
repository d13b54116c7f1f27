//! The task that runs one response: it feeds the backend's chat events into the
//! grammar, forwards every event to the client (if still connected), and stores
//! the final object and output items before the terminal event is sent, so a
//! chained call that follows at once sees this turn.

use futures::StreamExt;
use sqlx::SqlitePool;
use tokio::sync::mpsc;

use crate::backends::scripted::estimate_tokens;
use crate::backends::{BackendError, ChatEvent, ChatEventStream, FinishReason, TokenUsage};
use crate::ids::unix_now;
use crate::responses::object::{ContentPart, OutputItem, ResponseError};
use crate::store;
use crate::stream::{GrammarError, ResponseStreamBuilder, ResponseStreamEvent};

use super::PreparedResponse;

/// OpenAI's message for a response that failed while generating; the cause is logged.
const FAILED_MESSAGE: &str = "The model failed to generate a response.";

/// Sends events to the client until it goes away; the response runs on regardless.
struct ClientSink {
    sender: mpsc::Sender<ResponseStreamEvent>,
    connected: bool,
}

impl ClientSink {
    async fn send_all(&mut self, events: Vec<ResponseStreamEvent>) {
        for event in events {
            if self.connected && self.sender.send(event).await.is_err() {
                self.connected = false;
                tracing::debug!("client went away; the response continues");
            }
        }
    }
}

/// Runs a started response to its terminal event.
pub async fn run_response(
    db: SqlitePool,
    prepared: PreparedResponse,
    first: Option<Result<ChatEvent, BackendError>>,
    mut stream: ChatEventStream,
    sender: mpsc::Sender<ResponseStreamEvent>,
) {
    let mut sink = ClientSink {
        sender,
        connected: true,
    };
    let mut builder =
        ResponseStreamBuilder::new(prepared.response.clone(), prepared.reasoning_as_summary, prepared.obfuscate);
    match builder.start() {
        Ok(events) => sink.send_all(events).await,
        Err(error) => tracing::error!(%error, "grammar refused start"),
    }
    let mut finish = None;
    let mut usage = None;
    let mut failure = None;
    let mut next = first;
    while let Some(item) = next {
        match item {
            Ok(ChatEvent::Finish(reason)) => finish = Some(reason),
            Ok(ChatEvent::Usage(reported)) => usage = Some(reported),
            Ok(event) => match apply(&mut builder, &event) {
                Ok(events) => sink.send_all(events).await,
                Err(error) => {
                    failure = Some(format!(
                        "The backend's answer could not be followed: {error}"
                    ));
                    break;
                }
            },
            Err(error) => {
                tracing::warn!(backend = prepared.backend.name(), %error, "backend failed mid-stream");
                failure = Some(FAILED_MESSAGE.to_owned());
                break;
            }
        }
        next = stream.next().await;
    }
    // Closes the upstream request now (also on failure), not when the task ends.
    drop(stream);
    let usage =
        usage.unwrap_or_else(|| estimated_usage(&prepared, builder.response().output.as_slice()));
    let terminal = match failure {
        Some(message) => builder.fail(
            ResponseError {
                code: "server_error".into(),
                message,
            },
            Some(usage.into()),
        ),
        None => {
            let incomplete_reason = match finish {
                Some(FinishReason::Length) => Some("max_output_tokens"),
                Some(FinishReason::ContentFilter) => Some("content_filter"),
                _ => None,
            };
            builder.finish(usage.into(), incomplete_reason, unix_now())
        }
    };
    let terminal = match terminal {
        Ok(events) => events,
        Err(error) => {
            tracing::error!(%error, "grammar refused the terminal event");
            return;
        }
    };
    if builder.response().store {
        if let Err(error) = store::responses::finish_response(&db, builder.response()).await {
            tracing::error!(%error, response_id = %builder.response().id, "could not store the finished response");
        }
    }
    sink.send_all(terminal).await;
}

fn apply(
    builder: &mut ResponseStreamBuilder,
    event: &ChatEvent,
) -> Result<Vec<ResponseStreamEvent>, GrammarError> {
    match event {
        ChatEvent::TextDelta(text) => builder.text_delta(text),
        ChatEvent::ReasoningDelta(text) => builder.reasoning_delta(text),
        ChatEvent::ToolCallStart {
            index,
            call_id,
            name,
        } => builder.tool_call_start(*index, call_id, name),
        ChatEvent::ToolCallArguments { index, fragment } => {
            builder.tool_call_arguments(*index, fragment)
        }
        ChatEvent::Finish(_) | ChatEvent::Usage(_) => Ok(Vec::new()),
    }
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
