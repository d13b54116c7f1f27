//! How a segment of a run ends: `requires_action` (the tool_calls step stays
//! open) or a terminal run event, closing the open message and step with the
//! statuses the grammar in the parent module prescribes, then `done`.

use serde_json::{json, Value};

use crate::wire::chat_events::TokenUsage;
use crate::wire::runs::object::{last_error, usage_json, RunStatus};
use crate::wire::threads::request::text_part;

use super::{Event, OpenStep, RunEnd, RunStreamBuilder};
use crate::stream::GrammarError;

impl RunStreamBuilder {
    /// Ends the segment in `requires_action`: the tool_calls step stays in progress.
    pub fn require_action(&mut self) -> Result<Vec<Event>, GrammarError> {
        self.check_running()?;
        let Some(OpenStep::ToolCalls { calls, .. }) = &self.open else {
            return Err(GrammarError::UnknownToolCall(0));
        };
        let tool_calls: Vec<Value> = calls
            .iter()
            .map(|call| json!({"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}))
            .collect();
        self.ended = true;
        self.run.status = RunStatus::RequiresAction;
        self.run.required_action = Some(json!({
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {"tool_calls": tool_calls},
        }));
        Ok(vec![
            Event::Run("thread.run.requires_action", Box::new(self.run.clone())),
            Event::Done,
        ])
    }

    /// Ends the run: `step_usage` goes to an open step, `run_usage` to the run.
    pub fn end(
        &mut self,
        end: RunEnd,
        step_usage: TokenUsage,
        run_usage: TokenUsage,
        now: i64,
    ) -> Result<Vec<Event>, GrammarError> {
        if self.ended {
            return Err(GrammarError::Ended);
        }
        self.ended = true;
        let message_reason = match &end {
            RunEnd::Completed => None,
            RunEnd::Incomplete(_) => Some("max_tokens"),
            RunEnd::Failed { .. } => Some("run_failed"),
            RunEnd::Cancelled => Some("run_cancelled"),
        };
        let mut events = Vec::new();
        match (&end, self.open.is_some()) {
            (RunEnd::Completed | RunEnd::Incomplete(_), true) => {
                if matches!(self.open, Some(OpenStep::Message { .. })) {
                    events.extend(self.close_message(step_usage, message_reason, now));
                } else if let Some(OpenStep::ToolCalls { mut step, .. }) = self.open.take() {
                    step.status = "completed".to_owned();
                    step.completed_at = Some(now);
                    step.usage = Some(usage_json(step_usage));
                    events.push(Event::Step("thread.run.step.completed", step));
                }
            }
            (_, true) => {
                let (step_name, step_status) = match &end {
                    RunEnd::Cancelled => ("thread.run.step.cancelled", "cancelled"),
                    _ => ("thread.run.step.failed", "failed"),
                };
                let mut step = match self.open.take() {
                    Some(OpenStep::Message {
                        step,
                        mut message,
                        text,
                    }) => {
                        message.content = vec![text_part(&text)];
                        message.status = "incomplete".to_owned();
                        message.incomplete_details =
                            message_reason.map(|reason| json!({"reason": reason}));
                        message.incomplete_at = Some(now);
                        events.push(Event::Message("thread.message.incomplete", message));
                        step
                    }
                    Some(OpenStep::ToolCalls { step, .. }) => step,
                    None => return Err(GrammarError::Ended),
                };
                step.status = step_status.to_owned();
                if let RunEnd::Failed { code, message } = &end {
                    step.failed_at = Some(now);
                    step.last_error = Some(last_error(code, message));
                } else {
                    step.cancelled_at = Some(now);
                }
                events.push(Event::Step(step_name, step));
            }
            _ => {}
        }
        self.run.expires_at = None;
        self.run.required_action = None;
        self.run.usage = Some(usage_json(run_usage));
        let name = match end {
            RunEnd::Completed => {
                self.run.status = RunStatus::Completed;
                self.run.completed_at = Some(now);
                "thread.run.completed"
            }
            RunEnd::Incomplete(reason) => {
                self.run.status = RunStatus::Incomplete;
                self.run.incomplete_details = Some(json!({"reason": reason}));
                "thread.run.incomplete"
            }
            RunEnd::Failed { code, message } => {
                self.run.status = RunStatus::Failed;
                self.run.failed_at = Some(now);
                self.run.last_error = Some(last_error(&code, &message));
                "thread.run.failed"
            }
            RunEnd::Cancelled => {
                self.run.status = RunStatus::Cancelled;
                self.run.cancelled_at = Some(now);
                "thread.run.cancelled"
            }
        };
        events.push(Event::Run(name, Box::new(self.run.clone())));
        events.push(Event::Done);
        Ok(events)
    }
}
