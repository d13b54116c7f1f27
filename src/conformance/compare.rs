//! The comparison rules, as one table. A replayed answer passes when no rule
//! reports a difference; extra keys are reported, never failed.
//!
//! | what | rule |
//! |---|---|
//! | status | equal to OpenAI's |
//! | content type | same family (`application/json` or `text/event-stream`) |
//! | error envelope | all four keys (`message`, `type`, `param`, `code`); `type`, `code`, `param` equal |
//! | keys | every key OpenAI sent is present, recursively, with the same JSON type (int and float alike) |
//! | values | equal for `object`, `status`, every `type`, `role`, function `name`, `arguments`, `call_id`, `tool_call_id`, message `text` / `content` / `refusal`, `metadata`, `instructions`, `tool_choice`, `store`, `background`, `truncation`, `parallel_tool_calls`, incomplete `reason`, `finish_reason`, `has_more`, `deleted`, `output_index` / `content_index` / `summary_index`, `code`, `param` |
//! | mapped ids | `previous_response_id`, `conversation`, `assistant_id`, `thread_id`, `run_id` equal OpenAI's after id mapping |
//! | ids | `id` and `*_id` values carry OpenAI's prefix (`resp_`, `msg_`, `fc_`, `rs_`, `conv_`, `asst_`, `thread_`, `run_`, `step_`, `chatcmpl-`, `call_`) |
//! | model-policy fields | `prompt_cache_retention`, `reasoning.effort`, `reasoning.context`, `reasoning.mode`, `system_fingerprint`: present, any value or null — their defaults depend on the model (or the serving configuration) and have changed over time for the same model |
//! | everything else | type only (timestamps, usage numbers, model names, deltas) |
//! | arrays | same length and compared pairwise (output item order), except number arrays (embeddings) and the models list (its first entry's shape) |
//! | Responses SSE | `event:` equals `data.type`; `sequence_number` from 0 (or from where a resumed stream starts) without gaps; no `[DONE]`; the event-type sequence equals OpenAI's once runs of one type are collapsed; the first event of each type has its recorded twin's shape; the terminal event's response passes the rules above |
//! | Chat SSE | ends with `[DONE]`; every chunk is a `chat.completion.chunk`; the first and last chunks have their recorded twins' shapes; the accumulated message (content, tool calls, finish reason) equals OpenAI's |
//! | Assistants SSE | `event:` names follow OpenAI's collapsed sequence; ends with `event: done` / `[DONE]`; shapes as above |
//!
//! In `--target` mode (a server that cannot be scripted) content values are not
//! compared: only statuses, shapes, grammar and envelopes.

use serde_json::Value;

use super::cassette::{RecordedEvent, RecordedResponse};
use super::idmap::{id_prefix, IdMap};

/// Keys whose scalar values must equal OpenAI's.
const VALUE_KEYS: [&str; 28] = [
    "object",
    "status",
    "type",
    "role",
    "name",
    "arguments",
    "call_id",
    "tool_call_id",
    "text",
    "content",
    "refusal",
    "store",
    "background",
    "truncation",
    "parallel_tool_calls",
    "reason",
    "finish_reason",
    "has_more",
    "deleted",
    "output_index",
    "content_index",
    "summary_index",
    "code",
    "param",
    "metadata",
    "instructions",
    "tool_choice",
    "verbosity",
];

/// Values that depend on the model's content, not compared when the target cannot be scripted.
const CONTENT_KEYS: [&str; 10] = [
    "name",
    "arguments",
    "call_id",
    "tool_call_id",
    "text",
    "content",
    "refusal",
    "finish_reason",
    "reason",
    "status",
];

/// Keys holding ids of earlier objects, equal after mapping.
const MAPPED_KEYS: [&str; 5] = [
    "previous_response_id",
    "conversation",
    "assistant_id",
    "thread_id",
    "run_id",
];

/// Server-policy fields: present, but null and a value are both accepted.
/// `system_fingerprint` names the serving configuration: OpenAI sends a string
/// for most models and null for some, a local server whatever it has.
const POLICY_FIELDS: [&str; 5] = [
    "prompt_cache_retention",
    "effort",
    "context",
    "mode",
    "system_fingerprint",
];

/// What kind of stream an endpoint answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Responses,
    Chat,
    Assistants,
}

/// Portico's (or the target's) answer.
#[derive(Debug, Clone)]
pub struct ActualResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
    pub events: Option<Vec<RecordedEvent>>,
    /// The grader added a token cap the recorded request did not have.
    pub capped: bool,
}

/// The outcome of comparing one exchange.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    pub differences: Vec<String>,
    pub extras: Vec<String>,
    /// Compare content values (false in `--target` mode).
    pub scripted: bool,
    /// The grader capped the tokens of a request of this cassette: what the
    /// cap alone changes (its echo, `incomplete` for `completed`) is not graded.
    pub capped: bool,
    /// `--target` only: where the model answered otherwise than OpenAI's (a
    /// different output item, a tool call or not), kept apart from the
    /// contract's differences.
    pub model_choices: Vec<String>,
}

impl Comparison {
    fn differ(&mut self, message: String) {
        self.differences.push(message);
    }

    fn chose_differently(&mut self, message: String) {
        self.model_choices.push(message);
    }
}

/// What a grader's token cap alone changes in an answer.
const CAP_ECHOES: [&str; 4] = [
    "max_output_tokens",
    "max_tokens",
    "max_completion_tokens",
    "incomplete_details",
];

/// Compares one answer with OpenAI's.
pub fn compare_exchange(
    recorded: &RecordedResponse,
    actual: &ActualResponse,
    kind: StreamKind,
    ids: &IdMap,
    out: &mut Comparison,
) {
    if let Some(status) = recorded.status {
        if status != actual.status {
            out.differ(format!(
                "status {} instead of {status} ({})",
                actual.status,
                brief(&actual.body)
            ));
            return;
        }
    }
    if let Some(recorded_type) = recorded.headers.get("content-type").and_then(Value::as_str) {
        if family(recorded_type) != family(&actual.content_type) && !actual.content_type.is_empty()
        {
            out.differ(format!(
                "content-type {} instead of {recorded_type}",
                actual.content_type
            ));
        }
    }
    match (&recorded.events, &actual.events) {
        (Some(recorded_events), Some(actual_events)) => match kind {
            StreamKind::Responses => {
                compare_responses_stream(recorded_events, actual_events, ids, out)
            }
            StreamKind::Chat => compare_chat_stream(recorded_events, actual_events, ids, out),
            StreamKind::Assistants => {
                compare_assistants_stream(recorded_events, actual_events, ids, out)
            }
        },
        (Some(_), None) => out.differ("a JSON body where OpenAI streamed events".into()),
        (None, Some(_)) => out.differ("an event stream where OpenAI answered JSON".into()),
        (None, None) => {
            if recorded.status.is_some_and(|status| status >= 400) {
                check_envelope(&actual.body, out);
            }
            compare_value("$", "", &recorded.body, &actual.body, ids, out);
        }
    }
}

fn family(content_type: &str) -> &str {
    if content_type.starts_with("text/event-stream") {
        "sse"
    } else if content_type.starts_with("application/json") {
        "json"
    } else {
        content_type
    }
}

fn brief(body: &Value) -> String {
    let text = body
        .pointer("/error/message")
        .map(Value::to_string)
        .unwrap_or_else(|| body.to_string());
    text.chars().take(160).collect()
}

fn check_envelope(body: &Value, out: &mut Comparison) {
    match body.get("error").and_then(Value::as_object) {
        Some(error) => {
            for key in ["message", "type", "param", "code"] {
                if !error.contains_key(key) {
                    out.differ(format!("error envelope lacks `{key}`"));
                }
            }
        }
        None => out.differ("no error envelope".into()),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The JSON rules, applied recursively at `path` (the value sits under `key`).
pub fn compare_value(
    path: &str,
    key: &str,
    recorded: &Value,
    actual: &Value,
    ids: &IdMap,
    out: &mut Comparison,
) {
    if POLICY_FIELDS.contains(&key)
        && (recorded.is_null() || actual.is_null() || recorded.is_string() && actual.is_string())
    {
        return;
    }
    if out.capped && CAP_ECHOES.contains(&key) {
        return;
    }
    if !out.scripted && model_chose_differently(path, key, recorded, actual, out) {
        return;
    }
    if json_type(recorded) != json_type(actual) {
        out.differ(format!(
            "{path}: {} instead of {} ({})",
            json_type(actual),
            json_type(recorded),
            clip(recorded)
        ));
        return;
    }
    let content_key = CONTENT_KEYS.contains(&key)
        // How many items come before an output is the model's choice too.
        || key == "output_index";
    let patched = as_if_completed(recorded, actual, path, out);
    let actual = patched.as_ref().unwrap_or(actual);
    match (recorded, actual) {
        (Value::Object(recorded_object), Value::Object(actual_object)) => {
            if ["metadata", "tool_choice"].contains(&key) && recorded != actual {
                out.differ(format!(
                    "{path}: {} instead of {}",
                    clip(actual),
                    clip(recorded)
                ));
                return;
            }
            for (child, recorded_child) in recorded_object {
                let child_path = format!("{path}.{child}");
                match actual_object.get(child) {
                    Some(actual_child) => {
                        compare_value(&child_path, child, recorded_child, actual_child, ids, out)
                    }
                    None => out.differ(format!("{child_path}: missing")),
                }
            }
            for child in actual_object
                .keys()
                .filter(|child| !recorded_object.contains_key(*child))
            {
                out.extras.push(format!("{path}.{child}"));
            }
        }
        (Value::Array(recorded_items), Value::Array(actual_items)) => {
            if recorded_items.iter().all(Value::is_number) {
                return;
            }
            let open_list = recorded_items
                .first()
                .and_then(|first| first.get("object"))
                .and_then(Value::as_str)
                == Some("model");
            if open_list {
                if let (Some(first), Some(actual_first)) =
                    (recorded_items.first(), actual_items.first())
                {
                    compare_value(&format!("{path}[0]"), "", first, actual_first, ids, out);
                }
                return;
            }
            if recorded_items.len() != actual_items.len() {
                if out.scripted
                    || !content_key
                        && key != "output"
                        && key != "choices"
                        && key != "data"
                        && key != "tool_calls"
                {
                    out.differ(format!(
                        "{path}: {} items instead of {}",
                        actual_items.len(),
                        recorded_items.len()
                    ));
                }
                return;
            }
            for (index, (recorded_item, actual_item)) in
                recorded_items.iter().zip(actual_items).enumerate()
            {
                compare_value(
                    &format!("{path}[{index}]"),
                    key,
                    recorded_item,
                    actual_item,
                    ids,
                    out,
                );
            }
        }
        (Value::String(recorded_text), Value::String(actual_text)) => {
            if MAPPED_KEYS.contains(&key) {
                if ids.map(recorded_text) != actual_text {
                    out.differ(format!(
                        "{path}: {actual_text} is not the mapped {recorded_text}"
                    ));
                }
            } else if key == "id" || key.ends_with("_id") {
                if let Some(prefix) = id_prefix(recorded_text) {
                    if !actual_text.starts_with(prefix) {
                        out.differ(format!(
                            "{path}: id {actual_text} lacks OpenAI's prefix {prefix}"
                        ));
                    }
                }
            } else if VALUE_KEYS.contains(&key)
                && (out.scripted || !content_key)
                && recorded_text != actual_text
            {
                out.differ(format!(
                    "{path}: {} instead of {}",
                    clip(actual),
                    clip(recorded)
                ));
            }
        }
        (Value::Bool(_), Value::Bool(_)) | (Value::Number(_), Value::Number(_))
            if VALUE_KEYS.contains(&key)
                && (out.scripted || !content_key)
                && recorded != actual =>
        {
            out.differ(format!("{path}: {actual} instead of {recorded}"));
        }
        _ => {}
    }
}

/// In `--target` mode: whether the model answered otherwise than OpenAI's at
/// this point (noted apart, and the rest of the value left alone): an output
/// item, content part or run step of another type, tool calls where OpenAI's
/// had none (or the other way round), a refusal where OpenAI's answered, or
/// the other way round.
fn model_chose_differently(
    path: &str,
    key: &str,
    recorded: &Value,
    actual: &Value,
    out: &mut Comparison,
) -> bool {
    let item_type = |value: &Value| value.get("type").and_then(Value::as_str).map(str::to_owned);
    let run_step =
        |value: &Value| value.get("object").and_then(Value::as_str) == Some("thread.run.step");
    if ["output", "item", "content", "part", "step_details"].contains(&key)
        || (run_step(recorded) && run_step(actual))
    {
        if let (Some(recorded_type), Some(actual_type)) = (item_type(recorded), item_type(actual)) {
            if recorded_type != actual_type {
                out.chose_differently(format!(
                    "{path}: the model answered a {actual_type} where OpenAI's answered a {recorded_type}"
                ));
                return true;
            }
        }
    }
    if key == "message" || key == "delta" {
        let calls = |value: &Value| {
            value
                .get("tool_calls")
                .is_some_and(|calls| calls.as_array().is_some_and(|calls| !calls.is_empty()))
        };
        let refuses = |value: &Value| value.get("refusal").is_some_and(Value::is_string);
        let choice = |value: &Value| {
            if calls(value) {
                "called a tool"
            } else if refuses(value) {
                "refused"
            } else {
                "answered text"
            }
        };
        if choice(recorded) != choice(actual) {
            out.chose_differently(format!(
                "{path}: the model {} where OpenAI's {}",
                choice(actual),
                choice(recorded)
            ));
            return true;
        }
    }
    false
}

/// In `--target` mode, a response the model wrote until its token limit where
/// OpenAI's finished earlier: noted as the model's choice, and compared as if
/// it had completed (its `status`, `completed_at` and `incomplete_details`
/// taken from OpenAI's).
fn as_if_completed(
    recorded: &Value,
    actual: &Value,
    path: &str,
    out: &mut Comparison,
) -> Option<Value> {
    let status = |value: &Value| {
        value
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let is_response = recorded.get("object").and_then(Value::as_str) == Some("response");
    let by_length = actual
        .pointer("/incomplete_details/reason")
        .and_then(Value::as_str)
        == Some("max_output_tokens");
    if out.scripted
        || !is_response
        || !by_length
        || status(recorded).as_deref() != Some("completed")
        || status(actual).as_deref() != Some("incomplete")
    {
        return None;
    }
    if !out.capped {
        out.chose_differently(format!(
            "{path}: the model wrote until max_output_tokens where OpenAI's finished"
        ));
    }
    let mut patched = actual.clone();
    for key in ["status", "completed_at", "incomplete_details"] {
        if let (Some(object), Some(value)) = (patched.as_object_mut(), recorded.get(key)) {
            object.insert(key.to_owned(), value.clone());
        }
    }
    Some(patched)
}

fn clip(value: &Value) -> String {
    value.to_string().chars().take(120).collect()
}

mod streams;

use streams::{compare_assistants_stream, compare_chat_stream, compare_responses_stream};

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
