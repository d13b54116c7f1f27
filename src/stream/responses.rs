//! The Responses stream grammar, as one pure state machine.
//!
//! ```text
//! stream   := created in_progress item* terminal
//! created  := response.created       (status in_progress, output [], usage null)
//! item(n)  := response.output_item.added(output_index = n, status in_progress,
//!                                        empty content / empty arguments)
//!             body(n)
//!             response.output_item.done(output_index = n, same id, final item)
//! body     := message | function_call | reasoning
//! message  := content_part.added(0, output_text "") output_text.delta*
//!             output_text.done(full text) content_part.done(full part)
//!           | content_part.added(0, refusal "") refusal.delta* refusal.done
//!             content_part.done                       (a refusal)
//! function := function_call_arguments.delta* function_call_arguments.done(arguments, name)
//! reasoning:= reasoning_summary_part.added(0) reasoning_summary_text.delta*
//!             reasoning_summary_text.done reasoning_summary_part.done
//!                                    (when the request asked for a reasoning summary)
//!           | ε   (otherwise: as in OpenAI's recorded streams of reasoning
//!                 models asked for no summary, nothing between added and
//!                 done; the done item carries the text as `reasoning_text`)
//! terminal := response.completed | response.incomplete | response.failed
//! ```
//!
//! Rules the builder enforces (they are what the SDKs' accumulators check):
//! `sequence_number` starts at 0 and grows by one per event; `output_index` is
//! dense and follows emission order; one item is open at a time and a new kind of
//! delta closes it; every item added is done before the terminal event; exactly
//! one terminal event carries the full response (output and usage); nothing
//! follows it. On failure, an open item is closed with status `incomplete` before
//! `response.failed`.

use crate::wire::responses::object::{
    ContentPart, IncompleteDetails, ItemStatus, OutputItem, ResponseError, ResponseObject,
    ResponseStatus, ResponseUsage,
};

use super::events::ResponseStreamEvent as Event;

/// An illegal transition: a bug in the caller or a backend that broke the rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrammarError {
    #[error("the stream has not started")]
    NotStarted,
    #[error("the stream has already started")]
    AlreadyStarted,
    #[error("the stream has already ended")]
    Ended,
    #[error("arguments for tool call {0}, which is not the open tool call")]
    UnknownToolCall(u32),
}

/// The item currently being streamed.
#[derive(Debug)]
enum OpenItem {
    Message {
        id: String,
        text: String,
    },
    Refusal {
        id: String,
        text: String,
    },
    FunctionCall {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
        backend_index: u32,
    },
    Reasoning {
        id: String,
        text: String,
    },
}

/// Builds the event sequence of one response from normalized deltas.
#[derive(Debug)]
pub struct ResponseStreamBuilder {
    /// Boxed: the builder lives in every running response's task.
    response: Box<ResponseObject>,
    next_sequence: u64,
    open: Option<OpenItem>,
    reasoning_as_summary: bool,
    obfuscate: bool,
    /// The `phase` a message closed now gets: `commentary` when a tool call follows it.
    closing_phase: &'static str,
    /// Whether `queue` ran (background responses).
    queued: bool,
    started: bool,
    ended: bool,
}

/// A message that ends the turn.
const FINAL_ANSWER: &str = "final_answer";

impl ResponseStreamBuilder {
    /// A builder for `response` (its `output` is emptied). With
    /// `reasoning_as_summary`, backend reasoning is streamed as a summary part;
    /// otherwise, as on OpenAI, it is not streamed and appears only as
    /// `reasoning_text` content of the finished item. With `obfuscate`, deltas carry
    /// OpenAI's random `obfuscation` padding.
    pub fn new(
        response: impl Into<Box<ResponseObject>>,
        reasoning_as_summary: bool,
        obfuscate: bool,
    ) -> Self {
        let mut response = response.into();
        response.output.clear();
        response.usage = None;
        Self {
            response,
            next_sequence: 0,
            open: None,
            reasoning_as_summary,
            obfuscate,
            closing_phase: FINAL_ANSWER,
            queued: false,
            started: false,
            ended: false,
        }
    }

    /// Random padding that hides the delta's length (`None` when turned off).
    fn obfuscation(&self, delta: &str) -> Option<String> {
        self.obfuscate.then(|| {
            let length = 16 - delta.len() % 16;
            crate::wire::ids::random_hex(length)
        })
    }

    /// The response as it stands (final once the terminal event is out).
    pub fn response(&self) -> &ResponseObject {
        &self.response
    }

    /// Whether the terminal event has been emitted.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    fn sequence(&mut self) -> u64 {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        sequence
    }

    fn check_open(&self) -> Result<(), GrammarError> {
        if self.ended {
            Err(GrammarError::Ended)
        } else if !self.started {
            Err(GrammarError::NotStarted)
        } else {
            Ok(())
        }
    }

    /// `response.created` then `response.in_progress`.
    pub fn start(&mut self) -> Result<Vec<Event>, GrammarError> {
        if self.started {
            return Err(GrammarError::AlreadyStarted);
        }
        if self.ended {
            return Err(GrammarError::Ended);
        }
        self.started = true;
        let mut events = Vec::new();
        if !self.queued {
            self.response.status = ResponseStatus::InProgress;
            events.push(Event::Created {
                response: self.response.clone(),
                sequence_number: self.sequence(),
            });
        }
        self.response.status = ResponseStatus::InProgress;
        events.push(Event::InProgress {
            response: self.response.clone(),
            sequence_number: self.sequence(),
        });
        Ok(events)
    }

    /// Background responses: `response.created` (status `queued`) then
    /// `response.queued`; `start` later adds only `response.in_progress`.
    pub fn queue(&mut self) -> Result<Vec<Event>, GrammarError> {
        if self.started || self.queued {
            return Err(GrammarError::AlreadyStarted);
        }
        self.queued = true;
        self.response.status = ResponseStatus::Queued;
        let snapshot = self.response.clone();
        Ok(vec![
            Event::Created {
                response: snapshot.clone(),
                sequence_number: self.sequence(),
            },
            Event::Queued {
                response: snapshot,
                sequence_number: self.sequence(),
            },
        ])
    }

    /// Stops a running response: an open item is closed as `incomplete` and the
    /// response becomes `cancelled`. OpenAI defines no cancelled event, so none
    /// follows the item's closing events.
    pub fn cancel(&mut self) -> Result<Vec<Event>, GrammarError> {
        if self.ended {
            return Err(GrammarError::Ended);
        }
        let mut events = Vec::new();
        self.close_open(ItemStatus::Incomplete, &mut events);
        self.ended = true;
        self.response.status = ResponseStatus::Cancelled;
        self.response.completed_at = None;
        Ok(events)
    }

    /// The response as a poller sees it now: the finished items and the open one
    /// so far (status `in_progress`).
    pub fn snapshot(&self) -> ResponseObject {
        let mut snapshot = ResponseObject::clone(&self.response);
        if let Some(open) = &self.open {
            let item = match open {
                OpenItem::Message { id, text } => OutputItem::Message {
                    id: id.clone(),
                    status: ItemStatus::InProgress,
                    content: vec![output_text(text.clone())],
                    phase: Some(FINAL_ANSWER.into()),
                    role: "assistant".into(),
                },
                OpenItem::FunctionCall {
                    id,
                    call_id,
                    name,
                    arguments,
                    ..
                } => OutputItem::FunctionCall {
                    id: id.clone(),
                    status: ItemStatus::InProgress,
                    arguments: arguments.clone(),
                    call_id: call_id.clone(),
                    name: name.clone(),
                },
                OpenItem::Refusal { id, text } => OutputItem::Message {
                    id: id.clone(),
                    status: ItemStatus::InProgress,
                    content: vec![ContentPart::Refusal {
                        refusal: text.clone(),
                    }],
                    phase: Some(FINAL_ANSWER.into()),
                    role: "assistant".into(),
                },
                OpenItem::Reasoning { id, text } => {
                    self.reasoning_item(id, Some(text), ItemStatus::InProgress)
                }
            };
            snapshot.output.push(item);
        }
        snapshot
    }

    /// Ends the response: closes the open item and emits `response.completed`, or
    /// `response.incomplete` when `incomplete_reason` is given (the open item is
    /// then `incomplete` too).
    pub fn finish(
        &mut self,
        usage: ResponseUsage,
        incomplete_reason: Option<&str>,
        now: i64,
    ) -> Result<Vec<Event>, GrammarError> {
        self.check_open()?;
        let mut events = Vec::new();
        let item_status = if incomplete_reason.is_some() {
            ItemStatus::Incomplete
        } else {
            ItemStatus::Completed
        };
        self.close_open(item_status, &mut events);
        self.response.usage = Some(usage);
        self.ended = true;
        let sequence_number = self.sequence();
        match incomplete_reason {
            Some(reason) => {
                self.response.status = ResponseStatus::Incomplete;
                self.response.incomplete_details = Some(IncompleteDetails {
                    reason: reason.to_owned(),
                });
                self.response.completed_at = None;
                events.push(Event::Incomplete {
                    response: self.response.clone(),
                    sequence_number,
                });
            }
            None => {
                self.response.status = ResponseStatus::Completed;
                self.response.completed_at = Some(now);
                events.push(Event::Completed {
                    response: self.response.clone(),
                    sequence_number,
                });
            }
        }
        Ok(events)
    }

    /// Ends the response as failed: an open item is closed as `incomplete`, then
    /// `response.failed` carries `error`.
    pub fn fail(
        &mut self,
        error: ResponseError,
        usage: Option<ResponseUsage>,
    ) -> Result<Vec<Event>, GrammarError> {
        self.check_open()?;
        let mut events = Vec::new();
        self.close_open(ItemStatus::Incomplete, &mut events);
        self.ended = true;
        self.response.status = ResponseStatus::Failed;
        self.response.error = Some(error);
        self.response.usage = usage;
        let sequence_number = self.sequence();
        events.push(Event::Failed {
            response: self.response.clone(),
            sequence_number,
        });
        Ok(events)
    }
}

/// The interrupted path: a response whose producer went away (the process
/// that ran it stopped) ends `failed` with `error`; a stream whose log holds
/// events up to `next_sequence - 1` closes with this `response.failed`.
pub fn interrupted(
    mut response: ResponseObject,
    error: ResponseError,
    next_sequence: u64,
) -> Event {
    response.status = ResponseStatus::Failed;
    response.error = Some(error);
    Event::Failed {
        response: Box::new(response),
        sequence_number: next_sequence,
    }
}

fn output_text(text: String) -> ContentPart {
    ContentPart::OutputText {
        annotations: Vec::new(),
        logprobs: Vec::new(),
        text,
    }
}

mod deltas;
mod items;

#[cfg(test)]
#[path = "responses_tests.rs"]
mod tests;
