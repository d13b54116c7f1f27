//! Replaying Assistants runs. A run's content is not in the answer that
//! starts it (a non-streamed run answers `queued`): the script for a
//! run-creating request (create-run, create-thread-and-run,
//! submit_tool_outputs) is found in the cassette's later answers — the run's
//! `required_action` tool calls when it stopped for tool outputs, else the
//! text of the assistant message it wrote (in message lists or
//! `thread.message.completed` events). Ids are learned from Assistants stream
//! events too (thread, run, step and message ids), pairing each recorded event
//! with Portico's first event of the same name.

use serde_json::{json, Map, Value};

use super::cassette::{Interaction, RecordedEvent};
use super::idmap::IdMap;

/// Whether a request starts (a segment of) a run.
pub fn starts_run(method: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    method == "POST"
        && path.starts_with("/v1/threads")
        && (path.ends_with("/runs") || path.ends_with("/submit_tool_outputs"))
}

/// Every object an answer carries: its body, list entries, and event data.
fn objects_of(interaction: &Interaction) -> Vec<&Value> {
    let response = &interaction.response;
    let mut objects = vec![&response.body];
    objects.extend(
        response
            .body
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    );
    objects.extend(response.events.iter().flatten().map(|event| &event.data));
    objects
}

/// The recorded run id an answer starts or continues.
fn run_id_of(interaction: &Interaction) -> Option<String> {
    objects_of(interaction)
        .into_iter()
        .find(|object| object.get("object").and_then(Value::as_str) == Some("thread.run"))
        .and_then(|run| run.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The script for the run segment started by `interactions[index]`.
pub fn run_script(interactions: &[Interaction], index: usize) -> Option<Value> {
    let interaction = interactions.get(index)?;
    let request = interaction.request.as_ref()?;
    if !starts_run(&request.method, &request.path) || interaction.response.status != Some(200) {
        return None;
    }
    let run_id = run_id_of(interaction)?;
    // This segment's answers: this one and the following, up to the next segment's start.
    let mut window = vec![interaction];
    for later in interactions.iter().skip(index + 1) {
        if later
            .request
            .as_ref()
            .is_some_and(|next| starts_run(&next.method, &next.path) && next.path.contains(&run_id))
        {
            break;
        }
        window.push(later);
    }
    let objects: Vec<&Value> = window
        .iter()
        .flat_map(|answer| objects_of(answer))
        .collect();
    let run_of = |object: &&&Value| {
        object.get("object").and_then(Value::as_str) == Some("thread.run")
            && object.get("id").and_then(Value::as_str) == Some(run_id.as_str())
    };
    if let Some(calls) = objects
        .iter()
        .filter(run_of)
        .find_map(|run| run.pointer("/required_action/submit_tool_outputs/tool_calls"))
        .and_then(Value::as_array)
    {
        let tool_calls: Vec<Value> = calls
            .iter()
            .map(|call| {
                json!({
                    "id": call.get("id").cloned().unwrap_or(Value::Null),
                    "name": call.pointer("/function/name").cloned().unwrap_or_else(|| json!("")),
                    "arguments": call.pointer("/function/arguments").cloned().unwrap_or_else(|| json!("")),
                })
            })
            .collect();
        return Some(json!({"content": "", "tool_calls": tool_calls}));
    }
    let text = objects
        .iter()
        .filter(|object| {
            object.get("object").and_then(Value::as_str) == Some("thread.message")
                && object.get("role").and_then(Value::as_str) == Some("assistant")
                && object.get("run_id").and_then(Value::as_str) == Some(run_id.as_str())
        })
        .map(|message| message_text(message))
        .filter(|text| !text.is_empty())
        .max_by_key(String::len)
        .unwrap_or_default();
    let mut script = Map::new();
    script.insert("content".into(), Value::String(text));
    let final_status = objects
        .iter()
        .filter(run_of)
        .filter_map(|run| run.get("status").and_then(Value::as_str))
        .next_back();
    match final_status {
        Some("incomplete") => {
            script.insert("finish_reason".into(), json!("length"));
        }
        Some("failed") => {
            script.insert("error_status".into(), json!(500));
        }
        _ => {}
    }
    // OpenAI took a moment; the recorded polls saw the run queued or in progress first.
    if interaction.response.events.is_none() {
        script.insert("delay_ms".into(), json!(300));
    }
    Some(Value::Object(script))
}

fn message_text(message: &Value) -> String {
    message
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|part| part.pointer("/text/value").and_then(Value::as_str))
        .collect()
}

/// Learns ids from an Assistants stream: each recorded event's data against
/// Portico's first event of the same name.
pub fn learn_stream_ids(recorded: &[RecordedEvent], actual: &[RecordedEvent], ids: &mut IdMap) {
    for event in recorded {
        let Some(name) = event.event.as_deref() else {
            continue;
        };
        if name.ends_with(".delta") || name == "done" {
            continue;
        }
        if let Some(twin) = actual
            .iter()
            .find(|candidate| candidate.event.as_deref() == Some(name))
        {
            ids.learn(&event.data, &twin.data);
        }
    }
}

/// Whether a GET is a poll of a run (`/v1/threads/{id}/runs/{id}`).
pub fn is_run_poll(method: &str, path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    method == "GET" && segments.len() == 6 && segments[2] == "threads" && segments[4] == "runs"
}

/// The mock backend's count of chat requests received.
pub async fn backend_calls(client: &reqwest::Client, mock: &str) -> u64 {
    let stats = client.get(format!("{mock}/control/stats")).send().await;
    match stats {
        Ok(answer) => answer
            .json::<Value>()
            .await
            .ok()
            .and_then(|stats| stats.get("requests").and_then(Value::as_u64))
            .unwrap_or_default(),
        Err(_) => 0,
    }
}

/// Waits (2 s at most) until the run just started has asked the backend, so
/// that its script is taken before the next exchange replaces it.
pub async fn wait_for_backend_call(client: &reqwest::Client, mock: &str, before: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while backend_calls(client, mock).await <= before && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
