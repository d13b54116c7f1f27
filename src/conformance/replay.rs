//! Replaying one cassette: for each recorded request, in order, map the ids
//! learned so far, script the backend (when Portico's mock backend is behind the
//! target), send the request as recorded, and compare the answer.

use std::time::Duration;

use serde_json::{Map, Value};

use super::cassette::{Cassette, Interaction, RecordedEvent, RecordedRequest};
use super::compare::{compare_exchange, ActualResponse, Comparison, StreamKind};
use super::idmap::IdMap;
use super::scope::{classify, Scope};
use super::script::script_for;
use crate::wire::responses::request::HOSTED_TOOL_TYPES;

/// Where requests go.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL without `/v1` (cassette paths start with `/v1`).
    pub base_url: String,
    /// The key sent as `Authorization: Bearer` (a wrong one where OpenAI answered 401).
    pub api_key: Option<String>,
    /// The mock backend's URL, when the target is Portico in front of it (scripted mode).
    pub mock_url: Option<String>,
    /// Replace every request's `model` (for servers that do not know OpenAI's names).
    pub model: Option<String>,
    /// Cap generation where a request sets no limit (unscripted servers would
    /// otherwise generate until their context is full).
    pub max_tokens: Option<u64>,
}

/// How a cassette fared.
#[derive(Debug, Clone)]
pub enum Outcome {
    Passed,
    Failed(Vec<String>),
    /// `--target` only: the contract held, but the model answered otherwise
    /// than OpenAI's (text where it called a tool, no reasoning item): not the
    /// server's fault, reported apart.
    ModelChoseDifferently(Vec<String>),
    /// Hosted tools: Portico's clean 400 was checked.
    HostedToolRefused {
        passed: bool,
        differences: Vec<String>,
    },
    OutOfScope(String),
}

/// One cassette's result.
#[derive(Debug, Clone)]
pub struct CassetteResult {
    pub id: String,
    pub api: String,
    pub features: Vec<String>,
    pub outcome: Outcome,
    /// Endpoints that answered 404 for an unknown route (what the target lacks).
    pub missing_endpoints: Vec<String>,
}

/// Replays a cassette against `target`.
pub async fn replay(
    client: &reqwest::Client,
    target: &Target,
    cassette: &Cassette,
) -> CassetteResult {
    let mut result = CassetteResult {
        id: cassette.id.clone(),
        api: cassette.api.clone(),
        features: cassette.features.clone(),
        outcome: Outcome::Passed,
        missing_endpoints: Vec::new(),
    };
    let scope = classify(cassette);
    if let Scope::OutOfScope(reason) = &scope {
        result.outcome = Outcome::OutOfScope(reason.clone());
        return result;
    }
    if let Some(mock) = &target.mock_url {
        let _ = client
            .post(format!("{mock}/control/models"))
            .json(&serde_json::json!({"models": recorded_models(cassette)}))
            .send()
            .await;
    }
    let mut ids = IdMap::default();
    let mut comparison = Comparison {
        scripted: target.mock_url.is_some(),
        ..Comparison::default()
    };
    let mut refusal_checked = false;
    for (number, interaction) in cassette.interactions.iter().enumerate() {
        let Some(request) = &interaction.request else {
            continue;
        };
        let hosted = carries_hosted_tool(&request.body);
        if hosted.is_none()
            && matches!(scope, Scope::HostedToolRefusal(_))
            && answers_with_hosted_items(interaction)
        {
            break;
        }
        if let Some(mock) = &target.mock_url {
            let _ = client
                .delete(format!("{mock}/control/scripts"))
                .send()
                .await;
            let script = super::script::background_script(&cassette.interactions, number)
                .or_else(|| script_for(request, &interaction.response))
                .or_else(|| super::assistants::run_script(&cassette.interactions, number));
            if let Some(script) = script {
                let _ = client
                    .post(format!("{mock}/control/scripts"))
                    .json(&script)
                    .send()
                    .await;
            }
        }
        let run_start = match &target.mock_url {
            // Work the backend does after the answer (runs, background responses)
            // must have taken its script before the next exchange clears it.
            Some(mock)
                if super::assistants::starts_run(&request.method, &request.path)
                    || request.body.get("background").and_then(Value::as_bool) == Some(true) =>
            {
                Some((mock, super::assistants::backend_calls(client, mock).await))
            }
            _ => None,
        };
        let actual = match send_paced(client, target, request, interaction, &ids).await {
            Ok(actual) => actual,
            Err(error) => {
                comparison.differences.push(format!(
                    "#{number} {} {}: request failed: {error}",
                    request.method, request.path
                ));
                break;
            }
        };
        let unknown_route = actual
            .body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .is_none_or(|message| message.starts_with("Invalid URL"));
        if actual.status == 404 && unknown_route {
            result.missing_endpoints.push(format!(
                "{} {}",
                request.method,
                route_shape(&request.path)
            ));
        }
        let before = comparison.differences.len();
        if let Some(param) = hosted {
            refusal_checked = true;
            check_refusal(&actual, &param, &mut comparison);
            prefix_new(&mut comparison, before, number, request);
            break;
        }
        if let Some((mock, before)) = run_start.filter(|_| actual.status == 200) {
            super::assistants::wait_for_backend_call(client, mock, before).await;
        }
        // Objects an Assistants stream creates (its thread, run) are named in its later events.
        if let (Some(recorded), Some(events)) = (&interaction.response.events, &actual.events) {
            super::assistants::learn_stream_ids(recorded, events, &mut ids);
        }
        let kind = stream_kind(&request.path);
        // Once the grader capped a request, what it created carries the cap.
        comparison.capped |= actual.capped;
        let choices_before = comparison.model_choices.len();
        compare_exchange(&interaction.response, &actual, kind, &ids, &mut comparison);
        prefix_new(&mut comparison, before, number, request);
        if comparison.model_choices.len() > choices_before {
            let choices = &mut comparison.model_choices[choices_before..];
            for choice in choices.iter_mut() {
                *choice = format!(
                    "#{number} {} {}: {choice}",
                    request.method,
                    route_shape(&request.path)
                );
            }
            // The conversation went another way: what follows answers another history.
            break;
        }
        if let (Some(recorded), Some(actual_object)) =
            (interaction.response.final_object(), final_object(&actual))
        {
            ids.learn(recorded, &actual_object);
        }
    }
    let passed = comparison.differences.is_empty();
    let chose_differently = !comparison.model_choices.is_empty();
    result.outcome = match scope {
        Scope::HostedToolRefusal(reason) if !refusal_checked => {
            Outcome::OutOfScope(format!("{reason} (output only)"))
        }
        Scope::HostedToolRefusal(_) => Outcome::HostedToolRefused {
            passed,
            differences: comparison.differences,
        },
        _ if passed && chose_differently => {
            Outcome::ModelChoseDifferently(comparison.model_choices)
        }
        _ if passed => Outcome::Passed,
        _ => Outcome::Failed(comparison.differences),
    };
    result
}

fn prefix_new(comparison: &mut Comparison, from: usize, number: usize, request: &RecordedRequest) {
    for difference in &mut comparison.differences[from..] {
        *difference = format!(
            "#{number} {} {}: {difference}",
            request.method,
            route_shape(&request.path)
        );
    }
}

/// `/v1/responses/resp_123/input_items` → `/v1/responses/{id}/input_items`.
fn route_shape(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if super::idmap::id_prefix(segment).is_some()
                || segment.contains('_') && segment.len() > 20
            {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The model ids a cassette's answers show as existing.
fn recorded_models(cassette: &Cassette) -> Vec<String> {
    let mut models = Vec::new();
    for interaction in &cassette.interactions {
        let body = &interaction.response.body;
        if interaction.response.status == Some(200)
            && body.get("object").and_then(Value::as_str) == Some("model")
        {
            if let Some(id) = body.get("id").and_then(Value::as_str) {
                models.push(id.to_owned());
            }
        }
        for model in body
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if model.get("object").and_then(Value::as_str) == Some("model") {
                if let Some(id) = model.get("id").and_then(Value::as_str) {
                    models.push(id.to_owned());
                }
            }
        }
    }
    models
}

/// The param that names a hosted tool in a request body, if any.
fn carries_hosted_tool(body: &Value) -> Option<String> {
    for (index, tool) in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if tool
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|kind| HOSTED_TOOL_TYPES.contains(&kind))
        {
            return Some(format!("tools[{index}].type"));
        }
    }
    None
}

fn answers_with_hosted_items(interaction: &Interaction) -> bool {
    let output = interaction
        .response
        .final_object()
        .and_then(|object| object.get("output"))
        .and_then(Value::as_array);
    output
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("type").and_then(Value::as_str))
        .any(|kind| kind.ends_with("_call") && kind != "function_call" || kind.starts_with("mcp_"))
}

/// Portico refuses hosted tools with a clean 400 that names the tool's param.
fn check_refusal(actual: &ActualResponse, expected_param: &str, comparison: &mut Comparison) {
    if actual.status != 400 {
        comparison.differences.push(format!(
            "hosted tool: status {} instead of a clean 400",
            actual.status
        ));
        return;
    }
    let named = actual
        .body
        .pointer("/error/param")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !named.starts_with("tools[") {
        comparison.differences.push(format!(
            "hosted tool: param {named:?} does not name the tool ({expected_param})"
        ));
    }
}

fn stream_kind(path: &str) -> StreamKind {
    if path.contains("/threads") || path.contains("/assistants") {
        StreamKind::Assistants
    } else if path.contains("/chat/completions") {
        StreamKind::Chat
    } else {
        StreamKind::Responses
    }
}

/// The main object of an actual answer (terminal event's response for streams).
fn final_object(actual: &ActualResponse) -> Option<Value> {
    match &actual.events {
        Some(events) => events
            .iter()
            .rev()
            .find_map(|event| event.data.get("response").cloned()),
        None => Some(actual.body.clone()).filter(|body| !body.is_null()),
    }
}

/// Sends a request. A poll of a response (`GET /v1/responses/{id}`) is repeated
/// until Portico's response reaches the status OpenAI's had, or finishes, as a
/// polling client would.
async fn send_paced(
    client: &reqwest::Client,
    target: &Target,
    request: &RecordedRequest,
    interaction: &Interaction,
    ids: &IdMap,
) -> Result<ActualResponse, String> {
    let wrong_key = interaction.response.status == Some(401);
    let status_of = |body: &Value| {
        body.get("status")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let finished = |status: &str| {
        [
            "completed",
            "failed",
            "incomplete",
            "cancelled",
            "requires_action",
            "expired",
        ]
        .contains(&status)
    };
    let recorded_status = status_of(&interaction.response.body);
    let is_poll = request.method == "GET"
        && (request.path.starts_with("/v1/responses/") && request.path.matches('/').count() == 3
            || super::assistants::is_run_poll(&request.method, &request.path))
        && interaction.response.events.is_none()
        && !recorded_status.is_empty();
    let send_once = || {
        send(
            client,
            target,
            request,
            &interaction.response,
            ids,
            wrong_key,
        )
    };
    let mut actual = send_once().await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while is_poll && actual.status == 200 && std::time::Instant::now() < deadline {
        let status = status_of(&actual.body);
        if status == recorded_status || finished(&status) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        actual = send_once().await?;
    }
    Ok(actual)
}

async fn send(
    client: &reqwest::Client,
    target: &Target,
    request: &RecordedRequest,
    recorded_answer: &super::cassette::RecordedResponse,
    ids: &IdMap,
    wrong_key: bool,
) -> Result<ActualResponse, String> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|error| error.to_string())?;
    let mut path = ids.apply_path(&request.path);
    if let (Some(model), Some(rest)) = (&target.model, path.strip_prefix("/v1/models/")) {
        if !rest.is_empty() && !answered_model_not_found(recorded_answer) {
            path = format!("/v1/models/{model}");
        }
    }
    let url = format!("{}{path}", target.base_url);
    let mut builder = client.request(method, url).timeout(Duration::from_secs(60));
    let query = query_pairs(&request.query, ids);
    if !query.is_empty() {
        builder = builder.query(&query);
    }
    for name in ["content-type", "accept", "openai-beta"] {
        if let Some(value) = request.headers.get(name).and_then(Value::as_str) {
            builder = builder.header(name, value);
        }
    }
    if let Some(key) = &target.api_key {
        builder = builder.bearer_auth(if wrong_key {
            "sk-wrong-key-for-conformance"
        } else {
            key
        });
    }
    let mut capped = false;
    if !request.body.is_null() {
        let mut body = ids.apply(&request.body);
        if let (Some(model), Some(object)) = (&target.model, body.as_object_mut()) {
            // A model OpenAI said does not exist stays as recorded: renamed, it would exist.
            if object.contains_key("model") && !answered_model_not_found(recorded_answer) {
                object.insert("model".into(), Value::String(model.clone()));
            }
            if let (Some(cap), Some(object)) = (target.max_tokens, body.as_object_mut()) {
                capped = cap_tokens(object, &request.path, cap);
            }
        }
        if !request.headers.contains_key("content-type") {
            builder = builder.header("content-type", "application/json");
        }
        builder = builder.body(body.to_string());
    }
    let answer = builder.send().await.map_err(|error| error.to_string())?;
    let status = answer.status().as_u16();
    let content_type = answer
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = answer.text().await.map_err(|error| error.to_string())?;
    if content_type.starts_with("text/event-stream")
        || text.starts_with("event:")
        || text.starts_with("data:")
    {
        return Ok(ActualResponse {
            status,
            content_type,
            body: Value::Null,
            events: Some(parse_sse(&text)),
            capped,
        });
    }
    let body = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok(ActualResponse {
        status,
        content_type,
        body,
        events: None,
        capped,
    })
}

/// `--target`: caps a generation request at `cap` tokens (adding the limit
/// when it has none, lowering one above it: a real model may write until it
/// is reached, and each exchange has a minute). Whether it changed the request.
fn cap_tokens(object: &mut Map<String, Value>, path: &str, cap: u64) -> bool {
    let (field, cap) = if path.ends_with("/chat/completions") {
        ("max_tokens", cap)
    } else if path.ends_with("/responses") {
        ("max_output_tokens", cap.max(16))
    } else {
        return false;
    };
    let limits = ["max_tokens", "max_completion_tokens", "max_output_tokens"];
    let mut capped = false;
    for limit in limits {
        if let Some(given) = object.get(limit).and_then(Value::as_u64) {
            if given > cap {
                object.insert(limit.into(), Value::from(cap));
                capped = true;
            }
        }
    }
    if !limits.iter().any(|limit| object.contains_key(*limit)) {
        object.insert(field.into(), Value::from(cap));
        capped = true;
    }
    capped
}

/// Whether OpenAI answered that the request's model does not exist.
fn answered_model_not_found(answer: &super::cassette::RecordedResponse) -> bool {
    answer.body.pointer("/error/code").and_then(Value::as_str) == Some("model_not_found")
}

fn query_pairs(query: &Map<String, Value>, ids: &IdMap) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (name, value) in query {
        let values = match value {
            Value::Array(values) => values.clone(),
            other => vec![other.clone()],
        };
        for value in values {
            let text = match &value {
                Value::String(text) => ids.map(text).to_owned(),
                other => other.to_string(),
            };
            pairs.push((name.clone(), text));
        }
    }
    pairs
}

/// Parses an SSE body into events (comments skipped; multi-line data joined with `\n`).
pub fn parse_sse(text: &str) -> Vec<RecordedEvent> {
    let normalized = text.replace("\r\n", "\n");
    normalized
        .split("\n\n")
        .filter_map(|frame| {
            let mut event = None;
            let mut data: Vec<&str> = Vec::new();
            for line in frame.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    event = Some(value.trim().to_owned());
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value));
                }
            }
            if event.is_none() && data.is_empty() {
                return None;
            }
            let joined = data.join("\n");
            let data = if joined == "[DONE]" {
                Value::String(joined)
            } else if joined.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&joined)
                    .unwrap_or_else(|_| serde_json::json!({"$text": joined}))
            };
            Some(RecordedEvent { event, data })
        })
        .collect()
}
