//! Which backends serve which model. Each backend lists the model names it
//! serves (`*` for any); explicit routes map a model name (or one of its
//! aliases, or `*`) to an ordered list of backends, optionally renaming the
//! model upstream. Without routes, a model's candidates are every backend that
//! serves it, in configuration order — so `--backend A --backend B` makes B the
//! fallback of A. `resolve` returns the candidates as one [`FallbackBackend`].

use std::sync::Arc;

use super::fallback::{CallPolicy, Candidate, FallbackBackend};
use super::health::CircuitBreaker;
use crate::backends::backend::Backend;

/// One backend, the models it serves, and its circuit breaker.
#[derive(Debug, Clone)]
pub struct RegisteredBackend {
    pub backend: Arc<dyn Backend>,
    /// Model names; `*` matches every name.
    pub models: Vec<String>,
    pub breaker: Arc<CircuitBreaker>,
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

/// A model name (or `*`), its aliases, and its ordered backends.
#[derive(Debug, Clone)]
pub struct Route {
    pub model: String,
    pub aliases: Vec<String>,
    /// Indexes into the registry's backends, in order of preference.
    pub backends: Vec<usize>,
    /// The name the backends are asked for, when it differs.
    pub upstream_model: Option<String>,
}

impl Route {
    fn matches(&self, model: &str) -> bool {
        self.model == model || self.aliases.iter().any(|alias| alias == model)
    }
}

/// All configured backends and routes.
#[derive(Debug, Clone, Default)]
pub struct BackendRegistry {
    entries: Vec<RegisteredBackend>,
    routes: Vec<Route>,
    policy: CallPolicy,
    failure_threshold: u32,
    cooldown: std::time::Duration,
}

impl BackendRegistry {
    /// A registry whose calls follow `policy` and whose breakers open after
    /// `failure_threshold` failures for `cooldown`.
    pub fn new(policy: CallPolicy, failure_threshold: u32, cooldown: std::time::Duration) -> Self {
        Self {
            entries: Vec::new(),
            routes: Vec::new(),
            policy,
            failure_threshold,
            cooldown,
        }
    }

    /// Adds a backend serving `models` after the ones already registered.
    pub fn register(&mut self, backend: Arc<dyn Backend>, models: Vec<String>) {
        let threshold = if self.failure_threshold == 0 {
            3
        } else {
            self.failure_threshold
        };
        let cooldown = if self.cooldown.is_zero() {
            std::time::Duration::from_secs(10)
        } else {
            self.cooldown
        };
        self.entries.push(RegisteredBackend {
            backend,
            models,
            breaker: Arc::new(CircuitBreaker::new(threshold, cooldown)),
        });
    }

    /// Adds a route; `backends` are names of registered backends. Unknown names are an error.
    pub fn add_route(
        &mut self,
        model: &str,
        aliases: Vec<String>,
        backends: &[String],
        upstream_model: Option<String>,
    ) -> Result<(), String> {
        let indexes = backends
            .iter()
            .map(|name| {
                self.entries
                    .iter()
                    .position(|entry| entry.backend.name() == name)
                    .ok_or_else(|| format!("route {model}: no backend named {name}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if indexes.is_empty() {
            return Err(format!("route {model}: no backends"));
        }
        self.routes.push(Route {
            model: model.to_owned(),
            aliases,
            backends: indexes,
            upstream_model,
        });
        Ok(())
    }

    /// The candidates for `model`, in order (empty when nothing serves it).
    pub fn candidates(&self, model: &str) -> Vec<Candidate> {
        let route = self
            .routes
            .iter()
            .find(|route| route.matches(model))
            .or_else(|| self.routes.iter().find(|route| route.model == "*"));
        match route {
            Some(route) => route
                .backends
                .iter()
                .filter_map(|index| self.entries.get(*index))
                .map(|entry| Candidate {
                    backend: entry.backend.clone(),
                    breaker: entry.breaker.clone(),
                    upstream_model: route.upstream_model.clone().or_else(|| {
                        (route.model != model && route.model != "*").then(|| route.model.clone())
                    }),
                })
                .collect(),
            None => self
                .entries
                .iter()
                .filter(|entry| entry.serves(model))
                .map(|entry| Candidate {
                    backend: entry.backend.clone(),
                    breaker: entry.breaker.clone(),
                    upstream_model: None,
                })
                .collect(),
        }
    }

    /// The backend that serves `model` (its candidates, with fallback), if any.
    pub fn resolve(&self, model: &str) -> Option<Arc<dyn Backend>> {
        self.resolve_candidates(model)
            .map(|backend| Arc::new(backend) as Arc<dyn Backend>)
    }

    /// Like [`resolve`](Self::resolve), as the concrete candidate list (which
    /// can also forward pass-through bodies).
    pub fn resolve_candidates(&self, model: &str) -> Option<FallbackBackend> {
        let candidates = self.candidates(model);
        if candidates.is_empty() {
            return None;
        }
        Some(FallbackBackend::new(candidates, self.policy))
    }

    /// Every registered backend.
    pub fn entries(&self) -> &[RegisteredBackend] {
        &self.entries
    }

    /// Every route.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Whether at least one backend's circuit is not open.
    pub fn any_available(&self) -> bool {
        self.entries
            .iter()
            .any(|entry| entry.breaker.state() != super::health::CircuitState::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::scripted::ScriptedBackend;

    fn registry() -> BackendRegistry {
        let mut registry = BackendRegistry::default();
        registry.register(
            Arc::new(ScriptedBackend::new("a", vec![])),
            vec!["*".into()],
        );
        registry.register(
            Arc::new(ScriptedBackend::new("b", vec![])),
            vec!["*".into()],
        );
        registry.register(
            Arc::new(ScriptedBackend::new("c", vec![])),
            vec!["only-c".into()],
        );
        registry
    }

    fn names(candidates: &[Candidate]) -> Vec<&str> {
        candidates
            .iter()
            .map(|candidate| candidate.backend.name())
            .collect()
    }

    #[test]
    fn without_routes_every_backend_serving_the_model_is_a_candidate_in_order() {
        let registry = registry();
        assert_eq!(names(&registry.candidates("anything")), ["a", "b"]);
        assert_eq!(names(&registry.candidates("only-c")), ["a", "b", "c"]);
    }

    #[test]
    fn routes_and_aliases_pick_their_backends_and_rename_upstream() {
        let mut registry = registry();
        registry
            .add_route(
                "gemma",
                vec!["fast".into()],
                &["c".into(), "a".into()],
                Some("gemma3:270m".into()),
            )
            .unwrap();
        let candidates = registry.candidates("fast");
        assert_eq!(names(&candidates), ["c", "a"]);
        assert_eq!(candidates[0].upstream_model.as_deref(), Some("gemma3:270m"));
        assert!(registry
            .add_route("x", vec![], &["nope".into()], None)
            .is_err());
        assert!(
            registry.candidates("unrouted").len() == 2,
            "backends' own models still serve"
        );
    }
}
