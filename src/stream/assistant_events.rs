//! The events of an Assistants v2 stream and their SSE frames:
//! `event: <name>` with the bare object as `data`, and the closing
//! `event: done` / `data: [DONE]`. The grammar that orders them is
//! `stream::assistants`.

use bytes::Bytes;
use serde_json::Value;

use crate::wire::runs::object::{RunObject, RunStepObject};
use crate::wire::threads::object::{MessageObject, ThreadObject};

use super::sse::named_frame;

/// One event of an Assistants stream.
#[derive(Debug, Clone, PartialEq)]
pub enum AssistantStreamEvent {
    ThreadCreated(Box<ThreadObject>),
    /// `thread.run.<status>`.
    Run(&'static str, Box<RunObject>),
    /// `thread.run.step.<status>`.
    Step(&'static str, Box<RunStepObject>),
    /// `thread.run.step.delta`, its whole data object.
    StepDelta(Value),
    /// `thread.message.<status>`.
    Message(&'static str, Box<MessageObject>),
    /// `thread.message.delta`, its whole data object.
    MessageDelta(Value),
    /// `event: done` / `data: [DONE]`.
    Done,
}

impl AssistantStreamEvent {
    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ThreadCreated(_) => "thread.created",
            Self::Run(name, _) | Self::Step(name, _) | Self::Message(name, _) => name,
            Self::StepDelta(_) => "thread.run.step.delta",
            Self::MessageDelta(_) => "thread.message.delta",
            Self::Done => "done",
        }
    }

    /// The event, framed for the wire.
    pub fn frame(&self) -> Bytes {
        match self {
            Self::ThreadCreated(thread) => named_frame(self.name(), thread),
            Self::Run(_, run) => named_frame(self.name(), run),
            Self::Step(_, step) => named_frame(self.name(), step),
            Self::Message(_, message) => named_frame(self.name(), message),
            Self::StepDelta(data) | Self::MessageDelta(data) => named_frame(self.name(), data),
            Self::Done => Bytes::from_static(b"event: done\ndata: [DONE]\n\n"),
        }
    }
}
