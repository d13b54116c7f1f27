//! The control plane: who may call, how much, and the kill switch.
//!
//! * `keys`: API keys from the config file and issued through the admin API
//!   (stored as SHA-256 hashes, cached in memory), each belonging to a project;
//!   `project`: the project a request acts for.
//! * `route` and `meter`: what kind of request this is, and its tokens counted
//!   when responses, chat completions and embeddings finish.
//! * `limits` (with `window`): per-key requests and tokens per minute in a
//!   sliding window in memory; per-project tokens per UTC day in SQLite.
//!
//! Its HTTP side is in `http`: the `gate` middleware in front of `/v1` (401,
//! 403 for suspended projects and keys, 429), and the `/admin` API (`admin`,
//! `kill`). Foreground and background responses run under it through
//! `engine::metered`.

pub mod keys;
pub mod limits;
pub mod meter;
pub mod project;
pub mod route;

use std::collections::HashMap;
use std::time::Duration;

use std::sync::Arc;

use crate::config::{Config, ConfigError};
use crate::coordination::Coordinator;
use crate::inflight::{Inflight, Target};
use crate::store::access::AccessStore;

/// Why the control plane could not be built at start-up.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("database: {0}")]
    Store(#[from] crate::store::error::StoreError),
    #[error("config: {0}")]
    Config(#[from] ConfigError),
}

/// Keys, limits and what is in flight, as `AppState::access`.
#[derive(Debug, Clone)]
pub struct Access {
    pub keys: keys::Keys,
    pub limits: limits::Limits,
    pub inflight: Inflight,
}

impl Access {
    /// Reads the keys, budgets and window from the config, and announces the
    /// stored suspensions through `coordinator` (whose suspensions act on
    /// `inflight`, this process's work).
    pub async fn build(
        config: &Config,
        store: Arc<dyn AccessStore>,
        coordinator: Arc<dyn Coordinator>,
        inflight: Inflight,
    ) -> Result<Self, AccessError> {
        let keys = keys::Keys::from_config(config, store.clone(), coordinator.clone())?;
        let budgets: HashMap<String, u64> = config
            .projects
            .iter()
            .filter_map(|project| {
                project
                    .daily_token_budget
                    .map(|budget| (project.name.clone(), budget))
            })
            .collect();
        let window = Duration::from_millis(config.rate_limit_window_ms);
        for (kind, name) in store.suspensions().await? {
            if let Some(target) = Target::from_stored(&kind, name) {
                coordinator.publish_suspension(&target);
            }
        }
        let limits = limits::Limits::new(store, coordinator, window, budgets);
        Ok(Self {
            keys,
            limits,
            inflight,
        })
    }
}
