//! The stream rules of the comparison table: Responses (`event:` = `data.type`,
//! dense sequence numbers, no `[DONE]`, the collapsed event order, each event
//! type's first occurrence against its recorded twin), Chat (`[DONE]`, chunk
//! objects, first/last chunk shapes, the accumulated message) and Assistants
//! (event names, `done`).

use serde_json::Value;

use super::{clip, compare_value, Comparison};
use crate::conformance::cassette::RecordedEvent;
use crate::conformance::idmap::IdMap;

fn event_type(event: &RecordedEvent) -> String {
    event
        .data
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| event.event.clone())
        .unwrap_or_default()
}

fn collapse(types: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for kind in types {
        if out.last() != Some(&kind) {
            out.push(kind);
        }
    }
    out
}

pub(super) fn compare_responses_stream(
    recorded: &[RecordedEvent],
    actual: &[RecordedEvent],
    ids: &IdMap,
    out: &mut Comparison,
) {
    // A resumed stream starts after `starting_after`: numbers start where OpenAI's did.
    let first_number = recorded
        .iter()
        .find_map(|event| event.data.get("sequence_number").and_then(Value::as_u64))
        .unwrap_or(0);
    for (offset, event) in actual.iter().enumerate() {
        let index = first_number + offset as u64;
        if event.data == Value::String("[DONE]".into()) {
            out.differ("a [DONE] on a Responses stream".into());
            continue;
        }
        let kind = event_type(event);
        if event.event.as_deref() != Some(kind.as_str()) {
            out.differ(format!(
                "event {index}: `event: {:?}` differs from data.type {kind}",
                event.event
            ));
        }
        if event.data.get("sequence_number").and_then(Value::as_u64) != Some(index) {
            out.differ(format!(
                "event {index} ({kind}): sequence_number {} instead of {index}",
                event.data["sequence_number"]
            ));
        }
    }
    let recorded_events: Vec<&RecordedEvent> = recorded
        .iter()
        .filter(|event| event.data.is_object())
        .collect();
    let recorded_types = collapse(recorded_events.iter().map(|event| event_type(event)));
    // A grader's token cap ends a response `incomplete` where OpenAI's completed.
    let capped_end = |kind: String| {
        if out.capped && kind == "response.incomplete" {
            "response.completed".to_owned()
        } else {
            kind
        }
    };
    let actual_types = collapse(actual.iter().map(event_type).map(capped_end));
    if recorded_types != actual_types {
        // Unscripted, ending `incomplete` at the token limit where OpenAI's
        // completed is the model's choice (it wrote longer), like other items.
        let message = format!(
            "event sequence {} instead of {}",
            actual_types.join(" "),
            recorded_types.join(" ")
        );
        // Unscripted, other items (text for a tool call, no reasoning) are the
        // model's choice when the lifecycle around them is OpenAI's.
        if !out.scripted && lifecycle(&recorded_types) == lifecycle(&actual_types) {
            out.chose_differently(message);
        } else {
            out.differ(message);
        }
    }
    compare_twins(&recorded_events, actual, ids, out);
}

/// The lifecycle events of a collapsed sequence (`response.created`,
/// `response.in_progress`, the terminal one…), without those of the items
/// the model chose to produce; ending `incomplete` (at the token limit) counts
/// as completing, the model's choice of length.
fn lifecycle(types: &[String]) -> Vec<&str> {
    types
        .iter()
        .filter_map(|kind| match kind.as_str() {
            "response.incomplete" => Some("response.completed"),
            "response.created"
            | "response.queued"
            | "response.in_progress"
            | "response.completed"
            | "response.failed"
            | "response.cancelled" => Some(kind.as_str()),
            _ => None,
        })
        .collect()
}

/// An Assistants stream's lifecycle: the run's own events (not its steps'
/// or messages'), a run that stops for tool outputs or for its token limit
/// counted as completing (the model's choice), and `done`.
fn run_lifecycle(names: &[String]) -> Vec<&str> {
    names
        .iter()
        .filter_map(|name| match name.as_str() {
            "thread.run.requires_action" | "thread.run.incomplete" => Some("thread.run.completed"),
            name if name.starts_with("thread.run.step.") => None,
            name if name.starts_with("thread.run.")
                || name == "thread.created"
                || name == "done" =>
            {
                Some(name)
            }
            _ => None,
        })
        .collect::<Vec<_>>()
        .into_iter()
        .fold(Vec::new(), |mut collapsed, name| {
            if collapsed.last() != Some(&name) {
                collapsed.push(name);
            }
            collapsed
        })
}

/// Compares the first event of each type with its recorded twin.
fn compare_twins(
    recorded: &[&RecordedEvent],
    actual: &[RecordedEvent],
    ids: &IdMap,
    out: &mut Comparison,
) {
    let mut seen: Vec<String> = Vec::new();
    for event in recorded {
        let kind = event_type(event);
        if seen.contains(&kind) {
            continue;
        }
        seen.push(kind.clone());
        if let Some(twin) = actual
            .iter()
            .find(|candidate| event_type(candidate) == kind)
        {
            compare_value(&format!("<{kind}>"), "", &event.data, &twin.data, ids, out);
        }
    }
}

pub(super) fn compare_chat_stream(
    recorded: &[RecordedEvent],
    actual: &[RecordedEvent],
    ids: &IdMap,
    out: &mut Comparison,
) {
    if actual.last().map(|event| &event.data) != Some(&Value::String("[DONE]".into())) {
        out.differ("the chat stream does not end with [DONE]".into());
    }
    let recorded_chunks: Vec<&Value> = recorded
        .iter()
        .map(|event| &event.data)
        .filter(|data| data.is_object())
        .collect();
    let actual_chunks: Vec<&Value> = actual
        .iter()
        .map(|event| &event.data)
        .filter(|data| data.is_object())
        .collect();
    for chunk in &actual_chunks {
        if chunk.get("error").is_none()
            && chunk.get("object").and_then(Value::as_str) != Some("chat.completion.chunk")
        {
            out.differ(format!(
                "a chunk whose object is not chat.completion.chunk: {}",
                clip(chunk)
            ));
            break;
        }
    }
    if let (Some(first), Some(actual_first)) = (recorded_chunks.first(), actual_chunks.first()) {
        compare_shape_only("<first chunk>", first, actual_first, ids, out);
    }
    if let (Some(last), Some(actual_last)) = (recorded_chunks.last(), actual_chunks.last()) {
        compare_shape_only("<last chunk>", last, actual_last, ids, out);
    }
    if out.scripted {
        let (recorded_message, actual_message) = (
            accumulate_chat(&recorded_chunks),
            accumulate_chat(&actual_chunks),
        );
        compare_value(
            "<accumulated message>",
            "",
            &recorded_message,
            &actual_message,
            ids,
            out,
        );
    }
}

/// Key and type rules only (chunking differs, so content values are compared on
/// the accumulated message instead).
fn compare_shape_only(
    path: &str,
    recorded: &Value,
    actual: &Value,
    ids: &IdMap,
    out: &mut Comparison,
) {
    let mut shape = Comparison {
        scripted: false,
        capped: out.capped,
        ..Comparison::default()
    };
    compare_value(path, "", recorded, actual, ids, &mut shape);
    out.differences.extend(shape.differences);
    out.extras.extend(shape.extras);
    if !out.scripted {
        out.model_choices.extend(shape.model_choices);
    }
}

/// The message a chat stream adds up to: content, tool calls by index, finish reason.
fn accumulate_chat(chunks: &[&Value]) -> Value {
    let mut content = String::new();
    let mut calls: Vec<(String, String, String)> = Vec::new();
    let mut finish = Value::Null;
    for chunk in chunks {
        let Some(choice) = chunk.pointer("/choices/0") else {
            continue;
        };
        if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str) {
            content.push_str(text);
        }
        for call in choice
            .pointer("/delta/tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            while calls.len() <= index {
                calls.push(Default::default());
            }
            if let Some(id) = call.get("id").and_then(Value::as_str) {
                calls[index].0 = id.to_owned();
            }
            if let Some(name) = call.pointer("/function/name").and_then(Value::as_str) {
                calls[index].1 = name.to_owned();
            }
            if let Some(arguments) = call.pointer("/function/arguments").and_then(Value::as_str) {
                calls[index].2.push_str(arguments);
            }
        }
        if let Some(reason) = choice
            .get("finish_reason")
            .filter(|reason| !reason.is_null())
        {
            finish = reason.clone();
        }
    }
    serde_json::json!({
        "content": content,
        "tool_calls": calls.iter().map(|(id, name, arguments)| serde_json::json!({"call_id": id, "name": name, "arguments": arguments})).collect::<Vec<_>>(),
        "finish_reason": finish,
    })
}

pub(super) fn compare_assistants_stream(
    recorded: &[RecordedEvent],
    actual: &[RecordedEvent],
    ids: &IdMap,
    out: &mut Comparison,
) {
    let name = |event: &RecordedEvent| event.event.clone().unwrap_or_default();
    let recorded_names = collapse(recorded.iter().map(name));
    let actual_names = collapse(actual.iter().map(name));
    if recorded_names != actual_names {
        let message = format!(
            "event sequence {} instead of {}",
            actual_names.join(" "),
            recorded_names.join(" ")
        );
        if !out.scripted && run_lifecycle(&recorded_names) == run_lifecycle(&actual_names) {
            out.chose_differently(message);
        } else {
            out.differ(message);
        }
    }
    if actual
        .last()
        .map(|event| (event.event.as_deref(), &event.data))
        != Some((Some("done"), &Value::String("[DONE]".into())))
    {
        out.differ("the stream does not end with event: done / [DONE]".into());
    }
    let recorded_events: Vec<&RecordedEvent> = recorded
        .iter()
        .filter(|event| event.data.is_object())
        .collect();
    let mut seen: Vec<String> = Vec::new();
    for event in recorded_events {
        let kind = name(event);
        if seen.contains(&kind) {
            continue;
        }
        seen.push(kind.clone());
        if let Some(twin) = actual.iter().find(|candidate| name(candidate) == kind) {
            compare_value(&format!("<{kind}>"), "", &event.data, &twin.data, ids, out);
        }
    }
}
