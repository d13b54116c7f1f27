//! How a run becomes a chat request. The rules: the run's instructions (the
//! assistant's unless the run overrode them) plus `additional_instructions`
//! form a leading system message; then the thread's messages, oldest first
//! (`truncation_strategy: last_messages` keeps only the last N); then what
//! this run has done so far, from its steps: the messages it wrote, and each
//! tool_calls step as an assistant `tool_calls` message followed by one `tool`
//! message per call with the same call id. `max_prompt_tokens` drops the
//! oldest thread messages until the prompt fits (about four characters a
//! token); if even the newest does not fit, the run ends `incomplete`.

use serde_json::{json, Value};

use crate::wire::chat_events::estimate_tokens;
use crate::wire::chat_events::ChatRequest;
use crate::wire::threads::object::MessageObject;

use crate::wire::runs::object::RunJob;
use crate::wire::runs::object::{RunObject, RunStepObject};

/// What the backend is asked, or why it is not asked at all.
#[derive(Debug, Clone, PartialEq)]
pub enum Prepared {
    Chat(Box<ChatRequest>),
    /// The prompt does not fit `max_prompt_tokens`.
    PromptTooLong,
    /// `max_completion_tokens` was used up by earlier segments.
    CompletionBudgetSpent,
}

/// A thread message as a chat message (image parts kept for vision backends).
fn chat_message(message: &MessageObject) -> Value {
    let has_images = message
        .content
        .iter()
        .any(|part| part.get("type").and_then(Value::as_str) == Some("image_url"));
    if !has_images {
        return json!({"role": message.role, "content": message.text()});
    }
    let parts: Vec<Value> = message
        .content
        .iter()
        .filter_map(|part| match part.get("type").and_then(Value::as_str) {
            Some("text") => Some(json!({"type": "text", "text": part.pointer("/text/value").cloned().unwrap_or(Value::Null)})),
            Some("image_url") => Some(json!({"type": "image_url", "image_url": part.get("image_url").cloned().unwrap_or(Value::Null)})),
            _ => None,
        })
        .collect();
    json!({"role": message.role, "content": parts})
}

/// The chat messages of this run's own steps.
fn run_turns(run: &RunObject, messages: &[MessageObject], steps: &[RunStepObject]) -> Vec<Value> {
    let mut turns = Vec::new();
    for step in steps {
        match step.r#type.as_str() {
            "message_creation" => {
                let message_id = step
                    .step_details
                    .pointer("/message_creation/message_id")
                    .and_then(Value::as_str);
                if let Some(message) = messages.iter().find(|message| {
                    Some(message.id.as_str()) == message_id
                        && message.run_id.as_deref() == Some(&run.id)
                }) {
                    turns.push(chat_message(message));
                }
            }
            "tool_calls" if step.status == "completed" => {
                let calls: Vec<&Value> = step
                    .step_details
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .collect();
                let tool_calls: Vec<Value> = calls
                    .iter()
                    .map(|call| json!({
                        "id": call.get("id").cloned().unwrap_or(Value::Null),
                        "type": "function",
                        "function": {
                            "name": call.pointer("/function/name").cloned().unwrap_or(Value::Null),
                            "arguments": call.pointer("/function/arguments").cloned().unwrap_or_else(|| json!("")),
                        },
                    }))
                    .collect();
                turns.push(json!({"role": "assistant", "content": null, "tool_calls": tool_calls}));
                for call in calls {
                    turns.push(json!({
                        "role": "tool",
                        "tool_call_id": call.get("id").cloned().unwrap_or(Value::Null),
                        "content": call.pointer("/function/output").and_then(Value::as_str).unwrap_or_default(),
                    }));
                }
            }
            _ => {}
        }
    }
    turns
}

fn estimated(messages: &[Value]) -> u64 {
    estimate_tokens(&serde_json::to_string(messages).unwrap_or_default())
}

/// The chat request for the next segment of `run`.
pub fn chat_request(
    run: &RunObject,
    job: &RunJob,
    messages: &[MessageObject],
    steps: &[RunStepObject],
) -> Prepared {
    let mut system = run.instructions.clone().unwrap_or_default();
    if let Some(additional) = job
        .additional_instructions
        .as_deref()
        .filter(|text| !text.is_empty())
    {
        if !system.is_empty() {
            system.push_str("\n\n");
        }
        system.push_str(additional);
    }
    let mut history: Vec<Value> = messages
        .iter()
        .filter(|message| message.run_id.as_deref() != Some(&run.id))
        .map(chat_message)
        .collect();
    if run.truncation_strategy.get("type").and_then(Value::as_str) == Some("last_messages") {
        let keep = run
            .truncation_strategy
            .get("last_messages")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX) as usize;
        let drop = history.len().saturating_sub(keep);
        history.drain(..drop);
    }
    let turns = run_turns(run, messages, steps);
    let head: Vec<Value> = if system.is_empty() {
        Vec::new()
    } else {
        vec![json!({"role": "system", "content": system})]
    };
    let assemble = |history: &[Value]| -> Vec<Value> {
        head.iter().chain(history).chain(&turns).cloned().collect()
    };
    let mut chat_messages = assemble(&history);
    if let Some(limit) = run.max_prompt_tokens {
        while estimated(&chat_messages) > limit && history.len() > 1 {
            history.remove(0);
            chat_messages = assemble(&history);
        }
        if estimated(&chat_messages) > limit {
            return Prepared::PromptTooLong;
        }
    }
    let max_tokens = match run.max_completion_tokens {
        Some(limit) if job.usage.completion_tokens >= limit => {
            return Prepared::CompletionBudgetSpent
        }
        Some(limit) => Some(limit - job.usage.completion_tokens),
        None => None,
    };
    let tools: Vec<Value> = run
        .tools
        .iter()
        .filter(|tool| tool.get("type").and_then(Value::as_str) == Some("function"))
        .cloned()
        .collect();
    let response_format = match run.response_format.get("type").and_then(Value::as_str) {
        Some("json_object" | "json_schema") => Some(run.response_format.clone()),
        _ => None,
    };
    Prepared::Chat(Box::new(ChatRequest {
        model: run.model.clone(),
        messages: chat_messages,
        tool_choice: if tools.is_empty() {
            None
        } else {
            Some(run.tool_choice.clone())
        },
        parallel_tool_calls: if tools.is_empty() {
            None
        } else {
            Some(run.parallel_tool_calls)
        },
        tools,
        response_format,
        temperature: run.temperature,
        top_p: run.top_p,
        max_tokens,
        user: None,
        reasoning_effort: run.reasoning_effort.clone(),
        whole_answer: false,
    }))
}
