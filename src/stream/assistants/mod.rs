//! The Assistants v2 stream grammar, as one pure state machine.
//!
//! Every frame is `event: <name>` plus `data: <bare object JSON>` (no `type`
//! wrapper); a stream ends with `event: done` / `data: [DONE]`. One run is
//! streamed in *segments*: the first starts when the run is created, and each
//! `submit_tool_outputs` starts the next.
//!
//! ```text
//! first    := [thread.created]                 (create-thread-and-run only)
//!             thread.run.created thread.run.queued   (run status queued)
//!             body
//! next     := thread.run.step.completed        (the tool_calls step, outputs filled in)
//!             thread.run.queued body
//! body     := thread.run.in_progress step* end done
//! step     := message | tool_calls
//! message  := thread.run.step.created(message_creation, usage null)
//!             thread.run.step.in_progress
//!             thread.message.created(in_progress, content [])
//!             thread.message.in_progress
//!             thread.message.delta*            (the first carries annotations: [])
//!             thread.message.completed(full text) thread.run.step.completed(usage)
//! tool_calls := thread.run.step.created(tool_calls, tool_calls [])
//!             thread.run.step.in_progress
//!             thread.run.step.delta*           (a call's first delta: index, id, type,
//!                                               function {name, arguments "", output null};
//!                                               later ones: index, type, function {arguments})
//! end      := thread.run.requires_action       (the tool_calls step stays in progress)
//!           | thread.run.completed
//!           | [thread.message.incomplete] [thread.run.step.completed] thread.run.incomplete
//!           | [thread.message.incomplete] [thread.run.step.failed] thread.run.failed
//!           | [thread.message.incomplete] [thread.run.step.cancelled] thread.run.cancelled
//! done     := event: done, data: [DONE]
//! ```
//!
//! Rules the builder enforces (what the SDKs' accumulators check): one step and
//! one message open at a time; a delta only after its `created`; a tool call's
//! `id` and `name` only in its first delta (Python concatenates them); text
//! arriving once tool calls have started is dropped (a chat backend sends text
//! first); exactly one end, and nothing after `done`.

mod end;

use serde_json::{json, Map, Value};

use crate::wire::chat_events::estimate_tokens;
use crate::wire::chat_events::TokenUsage;
use crate::wire::ids::new_id;
use crate::wire::runs::object::{usage_json, RunObject, RunStatus, RunStepObject};
use crate::wire::threads::object::{MessageObject, ThreadObject};
use crate::wire::threads::request::text_part;

pub use super::assistant_events::AssistantStreamEvent;

#[cfg(test)]
mod tests;
use super::GrammarError;

type Event = AssistantStreamEvent;

#[derive(Debug)]
struct OpenCall {
    backend_index: u32,
    id: String,
    name: String,
    arguments: String,
}

#[derive(Debug)]
enum OpenStep {
    Message {
        step: Box<RunStepObject>,
        message: Box<MessageObject>,
        text: String,
    },
    ToolCalls {
        step: Box<RunStepObject>,
        calls: Vec<OpenCall>,
    },
}

/// How a segment ends.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    Completed,
    /// `max_completion_tokens` or `max_prompt_tokens`.
    Incomplete(&'static str),
    Failed {
        code: String,
        message: String,
    },
    Cancelled,
}

/// Builds the events of one segment of a run from normalized deltas.
#[derive(Debug)]
pub struct RunStreamBuilder {
    run: RunObject,
    open: Option<OpenStep>,
    started: bool,
    ended: bool,
}

impl RunStreamBuilder {
    /// A builder for a run as stored.
    pub fn new(run: RunObject) -> Self {
        Self {
            run,
            open: None,
            started: false,
            ended: false,
        }
    }

    /// The run as it stands.
    pub fn run(&self) -> &RunObject {
        &self.run
    }

    /// The open tool_calls step with every call so far (to store at `requires_action`).
    pub fn open_tool_step(&self) -> Option<&RunStepObject> {
        match &self.open {
            Some(OpenStep::ToolCalls { step, .. }) => Some(step.as_ref()),
            _ => None,
        }
    }

    /// Whether the backend asked for tool calls in this segment.
    pub fn has_tool_calls(&self) -> bool {
        matches!(&self.open, Some(OpenStep::ToolCalls { calls, .. }) if !calls.is_empty())
    }

    /// `thread.created` (create-thread-and-run streams open with it).
    pub fn thread_created(thread: &ThreadObject) -> Event {
        Event::ThreadCreated(Box::new(thread.clone()))
    }

    /// The first segment's opening: `thread.run.created`, `thread.run.queued`.
    pub fn open(&self) -> Vec<Event> {
        vec![
            Event::Run("thread.run.created", Box::new(self.run.clone())),
            Event::Run("thread.run.queued", Box::new(self.run.clone())),
        ]
    }

    /// A later segment's opening: the completed tool_calls step, `thread.run.queued`.
    pub fn resume(&self, completed_step: RunStepObject) -> Vec<Event> {
        vec![
            Event::Step("thread.run.step.completed", Box::new(completed_step)),
            Event::Run("thread.run.queued", Box::new(self.run.clone())),
        ]
    }

    /// `thread.run.in_progress`.
    pub fn start(&mut self, now: i64) -> Result<Vec<Event>, GrammarError> {
        if self.started {
            return Err(GrammarError::AlreadyStarted);
        }
        self.started = true;
        self.run.status = RunStatus::InProgress;
        self.run.started_at = Some(now);
        Ok(vec![Event::Run(
            "thread.run.in_progress",
            Box::new(self.run.clone()),
        )])
    }

    fn check_running(&self) -> Result<(), GrammarError> {
        match (self.started, self.ended) {
            (false, _) => Err(GrammarError::NotStarted),
            (_, true) => Err(GrammarError::Ended),
            _ => Ok(()),
        }
    }

    fn new_step(&self, kind: &str, details: Value, now: i64) -> RunStepObject {
        RunStepObject {
            id: new_id("step_"),
            object: "thread.run.step".to_owned(),
            created_at: now,
            run_id: self.run.id.clone(),
            assistant_id: self.run.assistant_id.clone(),
            thread_id: self.run.thread_id.clone(),
            r#type: kind.to_owned(),
            status: "in_progress".to_owned(),
            cancelled_at: None,
            completed_at: None,
            expires_at: self.run.expires_at,
            failed_at: None,
            last_error: None,
            step_details: details,
            usage: None,
            expired_at: None,
            metadata: Map::new(),
        }
    }

    /// A piece of the assistant's text (opens the message step on the first one).
    pub fn text_delta(&mut self, text: &str, now: i64) -> Result<Vec<Event>, GrammarError> {
        self.check_running()?;
        let mut events = Vec::new();
        if text.is_empty() || matches!(self.open, Some(OpenStep::ToolCalls { .. })) {
            return Ok(events);
        }
        if self.open.is_none() {
            let message_id = new_id("msg_");
            let step = self.new_step(
                "message_creation",
                json!({"type": "message_creation", "message_creation": {"message_id": message_id}}),
                now,
            );
            let message = MessageObject {
                id: message_id,
                object: "thread.message".to_owned(),
                created_at: now,
                assistant_id: Some(self.run.assistant_id.clone()),
                thread_id: self.run.thread_id.clone(),
                run_id: Some(self.run.id.clone()),
                status: "in_progress".to_owned(),
                incomplete_details: None,
                incomplete_at: None,
                completed_at: None,
                role: "assistant".to_owned(),
                content: Vec::new(),
                attachments: Vec::new(),
                metadata: Map::new(),
            };
            events.push(Event::Step(
                "thread.run.step.created",
                Box::new(step.clone()),
            ));
            events.push(Event::Step(
                "thread.run.step.in_progress",
                Box::new(step.clone()),
            ));
            events.push(Event::Message(
                "thread.message.created",
                Box::new(message.clone()),
            ));
            events.push(Event::Message(
                "thread.message.in_progress",
                Box::new(message.clone()),
            ));
            self.open = Some(OpenStep::Message {
                step: Box::new(step),
                message: Box::new(message),
                text: String::new(),
            });
        }
        if let Some(OpenStep::Message {
            message,
            text: so_far,
            ..
        }) = &mut self.open
        {
            let mut part = json!({"index": 0, "type": "text", "text": {"value": text}});
            if so_far.is_empty() {
                part["text"]["annotations"] = json!([]);
            }
            so_far.push_str(text);
            events.push(Event::MessageDelta(json!({
                "id": message.id,
                "object": "thread.message.delta",
                "delta": {"content": [part]},
            })));
        }
        Ok(events)
    }

    /// Closes an open message step as `completed` (or the message as
    /// `incomplete` with `reason`).
    fn close_message(
        &mut self,
        usage: TokenUsage,
        incomplete: Option<&str>,
        now: i64,
    ) -> Vec<Event> {
        let Some(OpenStep::Message {
            mut step,
            mut message,
            text,
        }) = self.open.take()
        else {
            return Vec::new();
        };
        message.content = vec![text_part(&text)];
        let message_event = match incomplete {
            Some(reason) => {
                message.status = "incomplete".to_owned();
                message.incomplete_details = Some(json!({"reason": reason}));
                message.incomplete_at = Some(now);
                "thread.message.incomplete"
            }
            None => {
                message.status = "completed".to_owned();
                message.completed_at = Some(now);
                "thread.message.completed"
            }
        };
        step.status = "completed".to_owned();
        step.completed_at = Some(now);
        step.usage = Some(usage_json(usage));
        vec![
            Event::Message(message_event, message),
            Event::Step("thread.run.step.completed", step),
        ]
    }

    /// A tool call begins (closes an open message step first).
    pub fn tool_call_start(
        &mut self,
        backend_index: u32,
        call_id: &str,
        name: &str,
        now: i64,
    ) -> Result<Vec<Event>, GrammarError> {
        self.check_running()?;
        let mut events = Vec::new();
        if let Some(OpenStep::Message { text, .. }) = &self.open {
            let usage = TokenUsage {
                completion_tokens: estimate_tokens(text),
                ..TokenUsage::default()
            };
            events.extend(self.close_message(usage, None, now));
        }
        if self.open.is_none() {
            let step = self.new_step(
                "tool_calls",
                json!({"type": "tool_calls", "tool_calls": []}),
                now,
            );
            events.push(Event::Step(
                "thread.run.step.created",
                Box::new(step.clone()),
            ));
            events.push(Event::Step(
                "thread.run.step.in_progress",
                Box::new(step.clone()),
            ));
            self.open = Some(OpenStep::ToolCalls {
                step: Box::new(step),
                calls: Vec::new(),
            });
        }
        if let Some(OpenStep::ToolCalls { step, calls }) = &mut self.open {
            let id = if call_id.is_empty() {
                new_id("call_")
            } else {
                call_id.to_owned()
            };
            let index = calls.len();
            events.push(Event::StepDelta(json!({
                "id": step.id,
                "object": "thread.run.step.delta",
                "delta": {"step_details": {"type": "tool_calls", "tool_calls": [
                    {"index": index, "id": id, "type": "function",
                     "function": {"name": name, "arguments": "", "output": null}}
                ]}},
            })));
            calls.push(OpenCall {
                backend_index,
                id,
                name: name.to_owned(),
                arguments: String::new(),
            });
            step.step_details = tool_calls_details(calls);
        }
        Ok(events)
    }

    /// A fragment of a tool call's arguments.
    pub fn tool_call_arguments(
        &mut self,
        backend_index: u32,
        fragment: &str,
    ) -> Result<Vec<Event>, GrammarError> {
        self.check_running()?;
        let Some(OpenStep::ToolCalls { step, calls }) = &mut self.open else {
            return Err(GrammarError::UnknownToolCall(backend_index));
        };
        let Some(index) = calls
            .iter()
            .rposition(|call| call.backend_index == backend_index)
        else {
            return Err(GrammarError::UnknownToolCall(backend_index));
        };
        if fragment.is_empty() {
            return Ok(Vec::new());
        }
        calls[index].arguments.push_str(fragment);
        step.step_details = tool_calls_details(calls);
        Ok(vec![Event::StepDelta(json!({
            "id": step.id,
            "object": "thread.run.step.delta",
            "delta": {"step_details": {"type": "tool_calls", "tool_calls": [
                {"index": index, "type": "function", "function": {"arguments": fragment}}
            ]}},
        }))])
    }
}

fn tool_calls_details(calls: &[OpenCall]) -> Value {
    let tool_calls: Vec<Value> = calls
        .iter()
        .map(|call| json!({"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments, "output": null}}))
        .collect();
    json!({"type": "tool_calls", "tool_calls": tool_calls})
}
