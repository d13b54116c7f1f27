//! The published OpenAPI document, fuzzed: schemathesis (pinned, in a venv
//! under target/) runs every check against the real `portico` binary, in front
//! of the mock backend over HTTP, with the committed `openapi/openapi.json`, a
//! fixed seed and at least 25 examples per operation, following the document's
//! links from create to retrieve/update/delete/list. The document must say
//! exactly what the server enforces: zero failures of any class, zero 5xx.
//! Exceptions are per operation and per check in
//! `tests/openapi_fuzz/schemathesis.toml`, each with its reason; what the
//! hooks do to valid requests is said in `tests/openapi_fuzz/hooks.py`.
//!
//! The run's traffic (a HAR report) is then counted per operation: every
//! operation that takes an id must have been answered 2xx at least once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/binary.rs"]
mod binary;
#[path = "support/venv.rs"]
#[allow(dead_code)]
mod venv;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};

use serde_json::Value;
use venv::prepare_venv;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Operations that take an id and can never answer 2xx here, with the reason.
const NEVER_2XX: [(&str, &str); 1] = [(
    "DELETE /v1/models/{model}",
    "a gateway deletes no model: 403 for a served one, 404 otherwise (OpenAI deletes only your fine-tunes)",
)];

/// A child process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `portico <args>`, killed when dropped.
fn start(args: &[&str]) -> (Process, String) {
    let (child, url) = binary::start(args);
    (Process(child), url)
}

/// The operation (`METHOD /template`) a request path belongs to: the template
/// that matches with the fewest parameters (a literal segment wins).
fn operation_of<'a>(
    templates: &'a [(String, String)],
    method: &str,
    path: &str,
) -> Option<&'a str> {
    let segments: Vec<&str> = path.split('/').collect();
    templates
        .iter()
        .filter(|(verb, template)| {
            let parts: Vec<&str> = template.split('/').collect();
            verb == method
                && parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(part, segment)| {
                    (part.starts_with('{') && !segment.is_empty()) || part == segment
                })
        })
        .min_by_key(|(_, template)| template.matches('{').count())
        .map(|(_, template)| template.as_str())
}

/// 2xx answers and all answers per operation that takes an id, from the HAR.
fn answers_per_operation(document: &Value, har: &Value) -> BTreeMap<String, (usize, usize)> {
    let mut templates = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            templates.push((method.to_uppercase(), path.clone()));
        }
    }
    let mut counts: BTreeMap<String, (usize, usize)> = templates
        .iter()
        .filter(|(_, path)| path.contains('{'))
        .map(|(method, path)| (format!("{method} {path}"), (0, 0)))
        .collect();
    for entry in har["log"]["entries"].as_array().unwrap() {
        let method = entry["request"]["method"].as_str().unwrap_or_default();
        let url = entry["request"]["url"].as_str().unwrap_or_default();
        let path = url
            .splitn(4, '/')
            .nth(3)
            .map(|rest| format!("/{}", rest.split('?').next().unwrap_or_default()))
            .unwrap_or_default();
        let Some(template) = operation_of(&templates, method, &path) else {
            continue;
        };
        if let Some((ok, all)) = counts.get_mut(&format!("{method} {template}")) {
            *all += 1;
            let status = entry["response"]["status"].as_u64().unwrap_or_default();
            if (200..300).contains(&status) {
                *ok += 1;
            }
        }
    }
    counts
}

#[test]
fn the_openapi_document_says_exactly_what_the_server_enforces() {
    let manifest = Path::new(MANIFEST_DIR);
    let suite = manifest.join("tests").join("openapi_fuzz");
    let python = prepare_venv("openapi-fuzz-venv", &suite.join("requirements.txt"));
    let work = tempfile::tempdir().unwrap();
    let (_mock, mock_url) = start(&["mock-backend", "--listen", "127.0.0.1:0"]);
    let config = work.path().join("portico.toml");
    std::fs::write(
        &config,
        format!(
            "admin_key = \"sk-portico-fuzz-admin\"\n\n[[api_keys]]\nkey = \"sk-portico-fuzz\"\nproject = \"fuzz\"\n\n[[backends]]\nname = \"mock\"\nbase_url = \"{mock_url}/v1\"\n"
        ),
    )
    .unwrap();
    let database = work.path().join("portico.db");
    let (server, url) = start(&[
        "serve",
        "--no-autodetect",
        "--listen",
        "127.0.0.1:0",
        "--config",
        config.to_str().unwrap(),
        "--db",
        database.to_str().unwrap(),
    ]);
    let report = work.path().join("report");
    let committed = manifest.join("openapi").join("openapi.json");
    let output = Command::new(&python)
        .current_dir(&suite)
        .args([
            "-m",
            "schemathesis.cli",
            "--config-file",
            "schemathesis.toml",
            "--no-color",
            "run",
        ])
        .arg(&committed)
        .args(["--url", &url, "--report", "har", "--report-dir"])
        .arg(&report)
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", &suite)
        .env("PORTICO_FUZZ_URL", &url)
        .env("PORTICO_FUZZ_MOCK_URL", &mock_url)
        .output()
        .unwrap();
    drop(server);
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    assert!(
        output.status.success(),
        "schemathesis found the document and the server disagree:\n{text}"
    );

    let document: Value = serde_json::from_slice(&std::fs::read(&committed).unwrap()).unwrap();
    let har_path = std::fs::read_dir(&report)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("har-"))
        })
        .expect("schemathesis wrote no HAR report");
    let har: Value = serde_json::from_slice(&std::fs::read(har_path).unwrap()).unwrap();
    let counts = answers_per_operation(&document, &har);
    println!("2xx / all answers, per operation that takes an id:");
    for (operation, (ok, all)) in &counts {
        println!("{ok:6} / {all:6}  {operation}");
    }
    let unreached: Vec<&String> = counts
        .iter()
        .filter(|(operation, (ok, _))| {
            *ok == 0 && !NEVER_2XX.iter().any(|(never, _)| never == operation)
        })
        .map(|(operation, _)| operation)
        .collect();
    assert!(
        unreached.is_empty(),
        "never answered 2xx in the run: {unreached:?}"
    );
    for (never, reason) in NEVER_2XX {
        let (ok, all) = counts.get(never).copied().unwrap_or_default();
        assert!(
            all > 0 && ok == 0,
            "{never} ({reason}) was answered {ok} 2xx of {all}"
        );
    }
}
