//! `spawn_app()`: starts a scripted mock backend and Portico in front of it, and
//! small helpers to script the backend and read what it received.

use std::net::SocketAddr;

use portico::config::{ApiKeyConfig, BackendConfig, BackendKind, Config};
use portico::http::app::App;
use reqwest::Method;
use serde_json::{json, Value};

/// Another mock backend on its own loopback port.
pub async fn spawn_mock() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(portico::mock_backend::serve(listener));
    address
}

/// A backend entry serving every model.
pub fn backend_config(name: &str, kind: BackendKind, base_url: String) -> BackendConfig {
    BackendConfig {
        name: name.into(),
        kind,
        base_url,
        api_key_env: None,
        models: vec!["*".into()],
        profile: None,
    }
}

/// Sends a request (with a JSON `body` if any) and returns (status, JSON
/// body, or null when the answer is not JSON).
pub async fn send(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// The chat completion bodies the mock at `mock` has received.
pub async fn requests_received(client: &reqwest::Client, mock: SocketAddr) -> Vec<Value> {
    let body: Value = client
        .get(format!("http://{mock}/control/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["requests"].as_array().cloned().unwrap_or_default()
}

/// A running Portico with its mock backend.
pub struct TestApp {
    pub address: SocketAddr,
    pub mock_address: SocketAddr,
    pub client: reqwest::Client,
    /// Where its store is (a SQLite file in `_directory`, or a PostgreSQL URL).
    store_location: std::path::PathBuf,
    _directory: tempfile::TempDir,
}

/// A change to the config made after the mock backend is in.
pub type Configure = Box<dyn FnOnce(&mut Config) + Send>;

/// Options for [`spawn_app_with`].
#[derive(Default)]
pub struct Options {
    /// API keys: (key, project).
    pub api_keys: Vec<(&'static str, &'static str)>,
    pub max_body_bytes: Option<usize>,
    /// Point the backend at this URL instead of the mock (e.g. a closed port).
    pub backend_url: Option<String>,
    /// Seconds an Assistants run waits for tool outputs (default: OpenAI's 600).
    pub run_expiry_seconds: Option<u64>,
    /// Changes to the config after the mock backend is in (routes, cache, more backends…).
    pub configure: Option<Configure>,
    /// The kind of server the mock poses as (default: a generic OpenAI-compatible one).
    pub pose: Option<portico::mock_backend::state::Pose>,
}

/// Portico on its defaults (the built-in `echo` backend, no mock), as a new
/// user starts it; returns its address.
/// Where a test's store goes, chosen by `PORTICO_TEST_STORE` (else the
/// build's [`crate::DEFAULT_STORE`]): `sqlite` is a file in the test's own
/// temporary directory, `postgres` a new database in this process's
/// throwaway cluster (see `tests/support/postgres.rs`). Every app of the
/// suite is built on its location through `portico::store::factory::open`,
/// the factory the server itself uses. Without PostgreSQL on the machine
/// (and `CI` unset), `postgres` falls back to SQLite and says so, once.
pub fn store_location(directory: &std::path::Path) -> std::path::PathBuf {
    let chosen = std::env::var("PORTICO_TEST_STORE").unwrap_or_default();
    let store = if chosen.is_empty() {
        crate::DEFAULT_STORE
    } else {
        chosen.as_str()
    };
    match store {
        "sqlite" => directory.join("portico.db"),
        "postgres" => match crate::postgres_cluster::cluster() {
            Some(cluster) => std::path::PathBuf::from(cluster.new_database()),
            None => {
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| {
                    crate::postgres_cluster::say_skipped(
                        "the API suite on PostgreSQL; these tests ran on SQLite instead",
                    )
                });
                directory.join("portico.db")
            }
        },
        other => panic!("PORTICO_TEST_STORE={other}: no such store (known: sqlite, postgres)"),
    }
}

/// A JSON snapshot of a wire format, named the same in every build of the
/// suite (on SQLite and on PostgreSQL): `tests/api/snapshots/<name>.snap`.
#[macro_export]
macro_rules! wire_snapshot {
    ($name:expr, $value:expr $(,)?) => {
        insta::with_settings!({prepend_module_to_snapshot => false}, {
            insta::assert_json_snapshot!($name, $value);
        })
    };
}

pub async fn spawn_builtin_app() -> (SocketAddr, tempfile::TempDir) {
    let directory = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: store_location(directory.path()),
        ..Config::default()
    };
    let app = App::build(config).await.unwrap();
    let address = app.address().unwrap();
    tokio::spawn(app.run());
    (address, directory)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// Portico in front of the mock posing as `kind` (its requests, quirks and errors).
pub async fn spawn_app_posing_as(kind: portico::backends::profile::ServerKind) -> TestApp {
    spawn_app_with(Options {
        pose: Some(portico::mock_backend::state::Pose::as_kind(kind)),
        ..Options::default()
    })
    .await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let mock_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mock_address = mock_listener.local_addr().unwrap();
    tokio::spawn(portico::mock_backend::serve_as(
        mock_listener,
        options.pose.unwrap_or_default(),
    ));
    let directory = tempfile::tempdir().unwrap();
    let store_location = store_location(directory.path());
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: store_location.clone(),
        ..Config::default()
    };
    if let Some(limit) = options.max_body_bytes {
        config.max_body_bytes = limit;
    }
    if let Some(seconds) = options.run_expiry_seconds {
        config.run_expiry_seconds = seconds;
    }
    config.backends.push(BackendConfig {
        name: "mock".into(),
        kind: BackendKind::Openai,
        base_url: options
            .backend_url
            .unwrap_or_else(|| format!("http://{mock_address}/v1")),
        api_key_env: None,
        models: vec!["*".into()],
        profile: None,
    });
    config.api_keys = options
        .api_keys
        .iter()
        .map(|(key, project)| ApiKeyConfig {
            key: Some((*key).into()),
            key_env: None,
            project: (*project).into(),
            ..ApiKeyConfig::default()
        })
        .collect();
    if let Some(configure) = options.configure {
        configure(&mut config);
    }
    let app = App::build(config).await.unwrap();
    let address = app.address().unwrap();
    tokio::spawn(app.run());
    TestApp {
        address,
        mock_address,
        client: reqwest::Client::new(),
        store_location,
        _directory: directory,
    }
}

/// A test's PostgreSQL database goes with its app: the suite's cluster stays
/// small (a database per test would otherwise take about 2 GB of disk).
impl Drop for TestApp {
    fn drop(&mut self) {
        let location = self.store_location.to_string_lossy();
        if location.starts_with("postgres://") {
            if let Some(cluster) = crate::postgres_cluster::cluster() {
                cluster.drop_database(&location);
            }
        }
    }
}

impl TestApp {
    /// The store this server uses (to start a second server on it, as after
    /// a restart, or to look at it through the storage seam).
    pub fn database_path(&self) -> std::path::PathBuf {
        self.store_location.clone()
    }

    /// The server's store, opened again through the storage seam's factory.
    pub async fn open_store(&self) -> portico::store::factory::Store {
        portico::store::factory::open(&self.database_path())
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Queues scripts for the backend's next answers.
    pub async fn script(&self, scripts: Value) {
        let answer = self
            .client
            .post(format!("http://{}/control/scripts", self.mock_address))
            .json(&scripts)
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_success(),
            "scripting the mock failed: {}",
            answer.text().await.unwrap()
        );
    }

    /// The chat completion bodies the backend has received.
    pub async fn backend_requests(&self) -> Vec<Value> {
        requests_received(&self.client, self.mock_address).await
    }

    /// POSTs JSON and returns (status, body).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        send(&self.client, Method::POST, &self.url(path), Some(body)).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        send(&self.client, Method::GET, &self.url(path), None).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        send(&self.client, Method::DELETE, &self.url(path), None).await
    }

    /// POSTs a streaming request and returns the parsed SSE events as (event name, data).
    pub async fn post_stream(
        &self,
        path: &str,
        body: Value,
    ) -> (u16, String, Vec<(Option<String>, Value)>) {
        let answer = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let content_type = answer
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = answer.text().await.unwrap();
        (status, content_type, parse_sse(&text))
    }
}

/// Parses an SSE body into (event name, data) pairs; `[DONE]` is kept as a JSON string.
pub fn parse_sse(text: &str) -> Vec<(Option<String>, Value)> {
    text.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let mut name = None;
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    name = Some(value.to_owned());
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push_str(value);
                }
            }
            let parsed = if data == "[DONE]" {
                json!("[DONE]")
            } else {
                serde_json::from_str(&data).unwrap()
            };
            (name, parsed)
        })
        .collect()
}

/// The `type`s of Responses stream events.
pub fn event_types(events: &[(Option<String>, Value)]) -> Vec<String> {
    events
        .iter()
        .map(|(_, data)| data["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Collapses runs of the same event type (chunking differs between backends).
pub fn collapsed(types: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for kind in types {
        if out.last() != Some(kind) {
            out.push(kind.clone());
        }
    }
    out
}
