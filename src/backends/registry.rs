//! Which backend serves which model. Each backend lists the model names it
//! serves, or `*` for every name; the first backend that matches wins. (Routes
//! with aliases and fallbacks come with the control plane; this is their seed.)

use std::sync::Arc;

use super::Backend;

/// One backend and the models it serves.
#[derive(Debug, Clone)]
pub struct RegisteredBackend {
    pub backend: Arc<dyn Backend>,
    /// Model names; `*` matches every name.
    pub models: Vec<String>,
}

impl RegisteredBackend {
    fn serves(&self, model: &str) -> bool {
        self.models
            .iter()
            .any(|served| served == "*" || served == model)
    }

    /// Whether this backend answers for any model name.
    pub fn is_catch_all(&self) -> bool {
        self.models.iter().any(|served| served == "*")
    }
}

/// All configured backends, in order of preference.
#[derive(Debug, Clone, Default)]
pub struct BackendRegistry {
    entries: Vec<RegisteredBackend>,
}

impl BackendRegistry {
    /// Adds a backend serving `models` after the ones already registered.
    pub fn register(&mut self, backend: Arc<dyn Backend>, models: Vec<String>) {
        self.entries.push(RegisteredBackend { backend, models });
    }

    /// The backend that serves `model`, if any.
    pub fn resolve(&self, model: &str) -> Option<Arc<dyn Backend>> {
        self.entries
            .iter()
            .find(|entry| entry.serves(model))
            .map(|entry| entry.backend.clone())
    }

    /// Every registered backend.
    pub fn entries(&self) -> &[RegisteredBackend] {
        &self.entries
    }
}
