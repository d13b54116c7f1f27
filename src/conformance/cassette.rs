//! Cassettes: recorded exchanges between OpenAI clients and api.openai.com, in
//! the format described by `conformance/FORMAT.md`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

/// One recorded fixture file.
#[derive(Debug, Clone, Deserialize)]
pub struct Cassette {
    pub id: String,
    pub api: String,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub flags: Vec<String>,
    pub interactions: Vec<Interaction>,
}

/// A request and OpenAI's answer to it.
#[derive(Debug, Clone, Deserialize)]
pub struct Interaction {
    pub request: Option<RecordedRequest>,
    pub response: RecordedResponse,
}

/// The request as the client sent it.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub query: Map<String, Value>,
    #[serde(default)]
    pub headers: Map<String, Value>,
    #[serde(default)]
    pub body: Value,
}

/// OpenAI's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedResponse {
    pub status: Option<u16>,
    #[serde(default)]
    pub headers: Map<String, Value>,
    #[serde(default)]
    pub body: Value,
    pub events: Option<Vec<RecordedEvent>>,
}

/// One server-sent event: its `event:` name (if any) and parsed `data` (`"[DONE]"` kept as a string).
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedEvent {
    pub event: Option<String>,
    pub data: Value,
}

impl Cassette {
    /// Whether the cassette carries a flag.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|present| present == flag)
    }

    /// Whether the cassette exercises a feature.
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|present| present == feature)
    }
}

impl RecordedResponse {
    /// The answer's main object: the JSON body, or the last stream event carrying a
    /// full object (a Responses terminal event's `response`, an Assistants run).
    pub fn final_object(&self) -> Option<&Value> {
        if let Some(events) = &self.events {
            return events.iter().rev().find_map(|event| {
                event
                    .data
                    .get("response")
                    .filter(|response| response.is_object())
            });
        }
        Some(&self.body).filter(|body| !body.is_null())
    }
}

/// Loads every `*.json` cassette under `directory`, sorted by path for a stable order.
pub fn load_directory(directory: &Path) -> Result<Vec<Cassette>, String> {
    let mut paths = Vec::new();
    collect_json_files(directory, &mut paths)?;
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
        })
        .collect()
}

fn collect_json_files(directory: &Path, paths: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(directory)
        .map_err(|error| format!("{}: {error}", directory.display()))?;
    for entry in entries {
        let path = entry.map_err(|error| error.to_string())?.path();
        if path.is_dir() {
            collect_json_files(&path, paths)?;
        } else if path
            .extension()
            .is_some_and(|extension| extension == "json")
        {
            paths.push(path);
        }
    }
    Ok(())
}
