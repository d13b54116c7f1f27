//! Building the backend registry from the configuration: one backend per
//! `[[backends]]` entry (OpenAI-compatible, Ollama native, or built-in), the
//! `[[routes]]`, timeouts and breakers; the built-in `echo` backend when nothing
//! is configured; the active health probes (and the first asking of each
//! server's kind); and the detection of local servers on their usual ports.

use std::sync::Arc;
use std::time::Duration;

use super::fallback::CallPolicy;
use super::ollama::OllamaBackend;
use super::openai_compat::OpenAiCompatBackend;
use super::profile::ServerKind;
use super::scripted::ScriptedBackend;
use crate::backends::backend::Backend;
use crate::backends::registry::BackendRegistry;
use crate::config::{BackendConfig, BackendKind, Config, ConfigError};

/// The registry a configuration describes.
pub fn registry_from(config: &Config) -> Result<BackendRegistry, ConfigError> {
    let policy = CallPolicy {
        first_event_timeout: Duration::from_secs(config.calls.first_token_timeout_seconds.max(1)),
        total_timeout: Duration::from_secs(config.calls.total_timeout_seconds.max(1)),
        retries: config.calls.retries,
        backoff: Duration::from_millis(config.calls.backoff_milliseconds),
    };
    let mut registry = BackendRegistry::new(
        policy,
        config.health.failure_threshold,
        Duration::from_secs(config.health.cooldown_seconds),
    );
    let connect_timeout = Duration::from_secs(config.calls.connect_timeout_seconds.max(1));
    for backend in &config.backends {
        registry.register(
            build_backend(backend, connect_timeout)?,
            backend.models.clone(),
        );
    }
    if config.backends.is_empty() {
        registry.register(
            Arc::new(ScriptedBackend::new("builtin", vec!["echo".into()])),
            vec!["echo".into()],
        );
    }
    for route in &config.routes {
        registry
            .add_route(
                &route.model,
                route.aliases.clone(),
                &route.backends,
                route.upstream_model.clone(),
            )
            .map_err(ConfigError::Invalid)?;
    }
    Ok(registry)
}

fn build_backend(
    backend: &BackendConfig,
    connect_timeout: Duration,
) -> Result<Arc<dyn Backend>, ConfigError> {
    Ok(match backend.kind {
        BackendKind::Openai => {
            let api_key = match &backend.api_key_env {
                Some(variable) => Some(std::env::var(variable).map_err(|_| {
                    ConfigError::Invalid(format!(
                        "backend {}: environment variable {variable} is not set",
                        backend.name
                    ))
                })?),
                None => None,
            };
            let kind = match backend.profile.as_deref() {
                None | Some("auto") => None,
                Some(name) => Some(name.parse::<ServerKind>().map_err(|error| {
                    ConfigError::Invalid(format!("backend {}: {error}", backend.name))
                })?),
            };
            Arc::new(
                OpenAiCompatBackend::with_connect_timeout(
                    &backend.name,
                    &backend.base_url,
                    api_key,
                    connect_timeout,
                )
                .with_kind(kind),
            )
        }
        BackendKind::Ollama => Arc::new(OllamaBackend::new(&backend.name, &backend.base_url)),
        BackendKind::Builtin => {
            let models = backend
                .models
                .iter()
                .filter(|model| *model != "*")
                .cloned()
                .collect();
            Arc::new(ScriptedBackend::new(&backend.name, models))
        }
    })
}

/// Asks every HTTP backend its kind now (see `profile::detect`), so that the
/// first request finds it known; then probes every backend every `interval`
/// (its model list): a failure counts against its circuit, a success closes it.
pub fn spawn_probes(registry: Arc<BackendRegistry>, interval: Duration) {
    for entry in registry.entries() {
        if let Some(http) = entry.backend.chat_passthrough() {
            tokio::spawn(http.learn_kind());
        }
    }
    if interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            for entry in registry.entries() {
                match tokio::time::timeout(Duration::from_secs(5), entry.backend.list_models())
                    .await
                {
                    Ok(Ok(_)) => entry.breaker.record_success(),
                    _ => {
                        tracing::warn!(backend = entry.backend.name(), "health probe failed");
                        entry.breaker.record_failure();
                    }
                }
            }
        }
    });
}

/// A local server to look for: name, kind, base URL, and the path that answers when one listens.
pub type KnownServer = (&'static str, BackendKind, &'static str, &'static str);

/// The usual local servers.
pub const USUAL_SERVERS: [KnownServer; 4] = [
    (
        "ollama",
        BackendKind::Ollama,
        "http://127.0.0.1:11434",
        "/api/tags",
    ),
    (
        "llama.cpp",
        BackendKind::Openai,
        "http://127.0.0.1:8080/v1",
        "/models",
    ),
    (
        "vllm",
        BackendKind::Openai,
        "http://127.0.0.1:8000/v1",
        "/models",
    ),
    (
        "lm-studio",
        BackendKind::Openai,
        "http://127.0.0.1:1234/v1",
        "/models",
    ),
];

/// Looks for local inference servers on their usual ports and returns a backend
/// entry for each one that answers.
pub async fn detect_local_servers() -> Vec<BackendConfig> {
    detect_servers(&USUAL_SERVERS).await
}

/// Returns a backend entry for each of `servers` that answers.
pub async fn detect_servers(servers: &[KnownServer]) -> Vec<BackendConfig> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap_or_default();
    let probes = servers.iter().map(|(name, kind, base_url, path)| {
        let client = client.clone();
        async move {
            let answered = client
                .get(format!("{base_url}{path}"))
                .send()
                .await
                .is_ok_and(|answer| answer.status().is_success());
            answered.then(|| BackendConfig {
                name: (*name).to_owned(),
                kind: *kind,
                base_url: (*base_url).to_owned(),
                api_key_env: None,
                models: vec!["*".to_owned()],
                profile: None,
            })
        }
    });
    futures::future::join_all(probes)
        .await
        .into_iter()
        .flatten()
        .collect()
}
