//! Building and running the server: `App::build(config)` opens the database,
//! registers the backends, binds the listener (port 0 allowed, for tests) and
//! assembles the router; `App::run` serves until the process ends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware;
use axum::response::IntoResponse;
use axum::Router;
use tokio::net::TcpListener;

use crate::backends::openai_compat::OpenAiCompatBackend;
use crate::backends::scripted::ScriptedBackend;
use crate::backends::BackendRegistry;
use crate::config::{BackendKind, Config};
use crate::error::ApiError;
use crate::state::AppState;
use crate::{auth, chat, conversations, embeddings, health, models, openapi, responses, store};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    #[error("config: {0}")]
    Config(#[from] crate::config::ConfigError),
}

/// A built server, bound and ready to run.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl App {
    /// Opens the database, registers backends and binds `config.listen`.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let db = store::open(&config.database).await?;
        let recovery = store::background::recover(&db).await?;
        // Locks of responses that were running when the process stopped.
        store::conversations::clear_all_locks(&db).await?;
        if recovery.interrupted > 0 || recovery.queued > 0 {
            tracing::info!(
                interrupted = recovery.interrupted,
                queued = recovery.queued,
                "resolved work left by the previous run"
            );
        }
        let backends = Arc::new(registry_from(&config)?);
        let api_keys: HashMap<String, String> = config.resolved_api_keys()?.into_iter().collect();
        let state = AppState {
            db,
            backends,
            api_keys: Arc::new(api_keys),
            background: crate::background::Background::default(),
        };
        state
            .background
            .spawn_workers(state.clone(), config.background_workers);
        let router = router(state.clone(), config.max_body_bytes);
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    /// The bound address (the real port when the config asked for port 0).
    pub fn address(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (for tests that look at the store directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the process ends.
    pub async fn run(self) -> std::io::Result<()> {
        axum::serve(self.listener, self.router).await
    }
}

/// The configured backends; with none, the built-in one serving `echo`.
fn registry_from(config: &Config) -> Result<BackendRegistry, StartError> {
    let mut registry = BackendRegistry::default();
    for backend in &config.backends {
        match backend.kind {
            BackendKind::Openai => {
                let api_key = match &backend.api_key_env {
                    Some(variable) => Some(std::env::var(variable).map_err(|_| {
                        crate::config::ConfigError::Invalid(format!(
                            "backend {}: environment variable {variable} is not set",
                            backend.name
                        ))
                    })?),
                    None => None,
                };
                registry.register(
                    Arc::new(OpenAiCompatBackend::new(
                        &backend.name,
                        &backend.base_url,
                        api_key,
                    )),
                    backend.models.clone(),
                );
            }
            BackendKind::Builtin => {
                let models: Vec<String> = backend
                    .models
                    .iter()
                    .filter(|model| *model != "*")
                    .cloned()
                    .collect();
                registry.register(
                    Arc::new(ScriptedBackend::new(&backend.name, models)),
                    backend.models.clone(),
                );
            }
        }
    }
    if config.backends.is_empty() {
        registry.register(
            Arc::new(ScriptedBackend::new("builtin", vec!["echo".into()])),
            vec!["echo".into()],
        );
    }
    Ok(registry)
}

/// Every route, with auth on `/v1`, the body limit, and envelope fallbacks.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let api = Router::new()
        .merge(responses::router())
        .merge(conversations::router())
        .merge(chat::router())
        .merge(embeddings::router())
        .merge(models::router())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_api_key,
        ));
    Router::new()
        .merge(api)
        .merge(health::router())
        .merge(openapi::router())
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

async fn unknown_route(request: Request) -> impl IntoResponse {
    ApiError::NotFound {
        message: format!(
            "Invalid URL ({} {})",
            request.method(),
            request.uri().path()
        ),
        param: None,
        code: None,
    }
}

async fn wrong_method(request: Request) -> impl IntoResponse {
    ApiError::MethodNotAllowed {
        message: format!(
            "Method {} is not allowed for {}.",
            request.method(),
            request.uri().path()
        ),
    }
}
