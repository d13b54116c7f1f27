//! Configuration: one struct, read from defaults, then a TOML file, then the
//! command line. Unknown keys are refused so that a typo is never silently ignored.
//!
//! ```toml
//! listen = "127.0.0.1:8400"
//! database = "portico.db"
//! max_body_bytes = 10485760
//! background_workers = 4
//!
//! [[backends]]
//! name = "llama"
//! base_url = "http://127.0.0.1:8080/v1"
//! api_key_env = "LLAMA_API_KEY"   # optional: the key is read from this variable
//! models = ["*"]                  # model names served, or "*" for any
//! profile = "auto"                # or the server's kind: vllm, sglang, llama-server,
//!                                 # llama-cpp-python, ollama, lm-studio, generic
//!
//! [[api_keys]]
//! key = "sk-team-a"               # or key_env = "TEAM_A_KEY"
//! project = "team-a"
//! name = "team a's service"       # optional label
//! requests_per_minute = 600       # optional; unset = unlimited
//! tokens_per_minute = 200000      # optional; counted when responses finish
//!
//! admin_key_env = "PORTICO_ADMIN_KEY"  # or admin_key = "…"; turns on /admin
//!                                      # (keys issued there, kill switch)
//!
//! [[projects]]
//! name = "team-a"
//! daily_token_budget = 5000000    # tokens per UTC day, then 429 insufficient_quota
//!
//! [replicas]                      # several replicas on one PostgreSQL database
//! lease_seconds = 30              # a stopped replica's work is taken over after this
//! poll_interval_ms = 500          # the longest a lost notification delays anything
//! max_connections = 16            # to PostgreSQL, per replica
//! ```
//!
//! Without `api_keys` and without an admin key the server is open (one default
//! project). `rate_limit_window_ms` (60000) is the window the per-minute
//! limits count over; only tests shorten it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything `portico serve` needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// SQLite database file, created on first start, or a PostgreSQL URL
    /// (`postgres://…`) that several replicas share.
    pub database: PathBuf,
    /// Largest request body accepted, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Upstream backends, in order of preference.
    pub backends: Vec<BackendConfig>,
    /// API keys; none means the server is open and everything is one project.
    pub api_keys: Vec<ApiKeyConfig>,
    /// Workers running background responses at once.
    pub background_workers: usize,
    /// Seconds an Assistants run waits for tool outputs before it expires
    /// (OpenAI: 10 minutes).
    pub run_expiry_seconds: u64,
    /// Routes: model names (and aliases) to ordered backend candidates.
    pub routes: Vec<RouteConfig>,
    /// Timeouts and retries of backend calls.
    pub calls: CallsConfig,
    /// Circuit breakers and health probes.
    pub health: HealthConfig,
    /// With no backend configured, look for local servers on their usual ports.
    pub autodetect: bool,
    /// Caching and de-duplication of deterministic generations.
    pub cache: CacheConfig,
    /// The admin API's key (`/admin/...`); without one the admin API answers 404.
    pub admin_key: Option<String>,
    /// Read the admin key from this environment variable instead.
    pub admin_key_env: Option<String>,
    /// Projects with settings (daily token budgets).
    pub projects: Vec<ProjectConfig>,
    /// The window per-minute rate limits count over, in milliseconds (60000).
    pub rate_limit_window_ms: u64,
    /// Several replicas on one PostgreSQL database: leases and polling.
    pub replicas: ReplicasConfig,
}

/// How replicas sharing one PostgreSQL database coordinate (ignored on SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicasConfig {
    /// Seconds a replica's lease on running work lasts unless renewed (it
    /// renews every third of it): a replica that died or stalled loses its
    /// work to another one after this long.
    pub lease_seconds: u64,
    /// Milliseconds between re-reads of what signals would have said (cancels
    /// asked elsewhere, suspensions, revoked keys, event logs followed): the
    /// longest a lost notification delays anything.
    pub poll_interval_ms: u64,
    /// The most connections this replica opens to PostgreSQL.
    pub max_connections: u32,
}

impl Default for ReplicasConfig {
    fn default() -> Self {
        Self {
            lease_seconds: crate::store::options::DEFAULT_LEASE_SECONDS,
            poll_interval_ms: 500,
            max_connections: crate::store::options::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// A project's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    pub name: String,
    /// Tokens the project may use per UTC day; unset = unlimited.
    #[serde(default)]
    pub daily_token_budget: Option<u64>,
}

/// The generation cache (off by default) and single flight (on by default).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    pub enabled: bool,
    pub dedupe: bool,
    pub max_entries: u64,
    pub ttl_seconds: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            dedupe: true,
            max_entries: 1000,
            ttl_seconds: 300,
        }
    }
}

impl CacheConfig {
    /// These settings with a route's own over them.
    pub fn overridden_by(&self, route: &RouteCacheConfig) -> Self {
        Self {
            enabled: route.enabled.unwrap_or(self.enabled),
            dedupe: route.dedupe.unwrap_or(self.dedupe),
            max_entries: route.max_entries.unwrap_or(self.max_entries),
            ttl_seconds: route.ttl_seconds.unwrap_or(self.ttl_seconds),
        }
    }
}

/// A model name (or `*`), its aliases and its backends in order of preference.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub model: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub backends: Vec<String>,
    /// The model name sent to the backends, when it differs from `model`.
    #[serde(default)]
    pub upstream_model: Option<String>,
    /// This route's cache settings, over the global `[cache]` ones.
    #[serde(default)]
    pub cache: Option<RouteCacheConfig>,
}

/// A route's cache settings: each one given replaces the global one.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteCacheConfig {
    pub enabled: Option<bool>,
    pub dedupe: Option<bool>,
    pub max_entries: Option<u64>,
    pub ttl_seconds: Option<u64>,
}

/// Timeouts and retries of backend calls (seconds unless said otherwise).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallsConfig {
    pub connect_timeout_seconds: u64,
    pub first_token_timeout_seconds: u64,
    pub total_timeout_seconds: u64,
    /// Extra attempts on a backend before falling back to the next.
    pub retries: u32,
    pub backoff_milliseconds: u64,
}

impl Default for CallsConfig {
    fn default() -> Self {
        Self {
            connect_timeout_seconds: 10,
            first_token_timeout_seconds: 120,
            total_timeout_seconds: 1800,
            retries: 0,
            backoff_milliseconds: 50,
        }
    }
}

/// Circuit breakers and active probes.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Consecutive failures that open a backend's circuit.
    pub failure_threshold: u32,
    /// Seconds an open circuit waits before a trial call.
    pub cooldown_seconds: u64,
    /// Seconds between active probes of every backend (0: none).
    pub probe_interval_seconds: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 3,
            cooldown_seconds: 10,
            probe_interval_seconds: 15,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8400)),
            database: PathBuf::from("portico.db"),
            max_body_bytes: 10 * 1024 * 1024,
            backends: Vec::new(),
            api_keys: Vec::new(),
            background_workers: 4,
            run_expiry_seconds: 600,
            routes: Vec::new(),
            calls: CallsConfig::default(),
            health: HealthConfig::default(),
            autodetect: true,
            cache: CacheConfig::default(),
            admin_key: None,
            admin_key_env: None,
            projects: Vec::new(),
            rate_limit_window_ms: 60_000,
            replicas: ReplicasConfig::default(),
        }
    }
}

/// Which kind of server a backend is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// Any server speaking OpenAI's Chat Completions.
    #[default]
    Openai,
    /// Ollama's native `/api/chat` (base URL without `/v1`).
    Ollama,
    /// The built-in scripted backend, in process.
    Builtin,
}

/// One upstream backend.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    pub name: String,
    #[serde(default)]
    pub kind: BackendKind,
    /// Base URL including `/v1`, e.g. `http://127.0.0.1:8080/v1`.
    #[serde(default)]
    pub base_url: String,
    /// Name of the environment variable that holds the backend's API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Models served; `*` serves any name.
    #[serde(default = "all_models")]
    pub models: Vec<String>,
    /// The kind of server (`vllm`, `sglang`, `llama-server`,
    /// `llama-cpp-python`, `ollama`, `lm-studio`, `generic`), whose request
    /// forms Portico uses; `auto` (the default) asks the server.
    #[serde(default)]
    pub profile: Option<String>,
}

fn all_models() -> Vec<String> {
    vec!["*".to_owned()]
}

/// One API key and the project it belongs to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    #[serde(default)]
    pub key: Option<String>,
    /// Read the key from this environment variable instead.
    #[serde(default)]
    pub key_env: Option<String>,
    pub project: String,
    /// A label shown by the admin API.
    #[serde(default)]
    pub name: Option<String>,
    /// Requests per minute; unset = unlimited.
    #[serde(default)]
    pub requests_per_minute: Option<u64>,
    /// Tokens per minute (counted when responses finish); unset = unlimited.
    #[serde(default)]
    pub tokens_per_minute: Option<u64>,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Reads a TOML file over the defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    /// Adds an OpenAI-compatible backend that serves every model (`--backend URL`).
    pub fn add_backend_url(&mut self, url: &str) {
        let name = format!("backend-{}", self.backends.len() + 1);
        self.backends.push(BackendConfig {
            name,
            kind: BackendKind::Openai,
            base_url: url.to_owned(),
            api_key_env: None,
            models: all_models(),
            profile: None,
        });
    }

    /// The admin key, resolved from the environment when `admin_key_env` names it.
    pub fn resolved_admin_key(&self) -> Result<Option<String>, ConfigError> {
        match (&self.admin_key, &self.admin_key_env) {
            (Some(key), _) => Ok(Some(key.clone())),
            (None, Some(variable)) => std::env::var(variable).map(Some).map_err(|_| {
                ConfigError::Invalid(format!(
                    "admin key: environment variable {variable} is not set"
                ))
            }),
            (None, None) => Ok(None),
        }
    }

    /// The API keys with their values resolved from the environment.
    pub fn resolved_api_keys(&self) -> Result<Vec<(String, String)>, ConfigError> {
        self.api_keys
            .iter()
            .map(|entry| {
                let key = match (&entry.key, &entry.key_env) {
                    (Some(key), _) => key.clone(),
                    (None, Some(variable)) => std::env::var(variable).map_err(|_| {
                        ConfigError::Invalid(format!(
                            "api key for project {}: environment variable {variable} is not set",
                            entry.project
                        ))
                    })?,
                    (None, None) => {
                        return Err(ConfigError::Invalid(format!(
                            "api key for project {} needs `key` or `key_env`",
                            entry.project
                        )))
                    }
                };
                Ok((key, entry.project.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
