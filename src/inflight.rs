//! What is running right now, by project and key, so that the kill switch can
//! stop it at once. Every authenticated request and every foreground response
//! registers here with a cancel signal (a `watch` that turns true); the
//! registration ends when it is dropped. The suspended projects and keys live
//! here too, under the same lock, so that a registration made while (or after)
//! its project is suspended starts cancelled: nothing slips between the check
//! at the door and the suspension.
//!
//! Background responses and Assistants runs have cancel signals of their own;
//! this registry only remembers which key created them (the kill switch finds
//! a project's unfinished ones in the store, and a key's among those).
//!
//! The caller of the request being served (its project and key) is kept in a
//! task-local by the gate, so that code deep in a handler (`engine::start`,
//! `engine::enqueue`) can register under the right key.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

/// The project and key of the request being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerScope {
    pub project: String,
    /// `None` on an open server (no keys).
    pub key_id: Option<String>,
}

tokio::task_local! {
    static CALLER: CallerScope;
}

/// Runs `future` with `caller` as the current caller.
pub async fn scope<F: std::future::Future>(caller: CallerScope, future: F) -> F::Output {
    CALLER.scope(caller, future).await
}

/// The key of the request this task is serving, if any.
pub fn current_key() -> Option<String> {
    CALLER
        .try_with(|caller| caller.key_id.clone())
        .ok()
        .flatten()
}

/// What a suspension applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Project(String),
    Key(String),
}

impl Target {
    /// `project` or `key` (as stored).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Project(_) => "project",
            Self::Key(_) => "key",
        }
    }

    /// The project's name or the key's id.
    pub fn name(&self) -> &str {
        match self {
            Self::Project(name) | Self::Key(name) => name,
        }
    }

    /// Builds a target from its stored form.
    pub fn from_stored(kind: &str, name: String) -> Option<Self> {
        match kind {
            "project" => Some(Self::Project(name)),
            "key" => Some(Self::Key(name)),
            _ => None,
        }
    }
}

/// What a registration stands for (counted separately by the kill switch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An HTTP request being answered.
    Request,
    /// A foreground response being generated (it outlives its request when
    /// the client goes away).
    Response,
}

#[derive(Debug)]
struct Entry {
    project: String,
    key_id: Option<String>,
    kind: Kind,
    cancel: watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    entries: HashMap<u64, Entry>,
    suspended: HashSet<Target>,
}

impl State {
    fn suspension(&self, project: &str, key_id: Option<&str>) -> Option<Target> {
        let project = Target::Project(project.to_owned());
        if self.suspended.contains(&project) {
            return Some(project);
        }
        let key = Target::Key(key_id?.to_owned());
        self.suspended.contains(&key).then_some(key)
    }
}

/// The registry (cheap to clone; clones share it).
#[derive(Debug, Clone)]
pub struct Inflight {
    state: Arc<Mutex<State>>,
    /// Background response and run id → the key that created it.
    created_by: moka::future::Cache<String, String>,
}

impl Default for Inflight {
    fn default() -> Self {
        Self {
            state: Arc::default(),
            created_by: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(24 * 60 * 60))
                .build(),
        }
    }
}

/// One registered piece of work; dropping it ends the registration.
#[derive(Debug)]
pub struct Registration {
    id: u64,
    state: Arc<Mutex<State>>,
    /// Turns true when the work's project or key is suspended.
    pub cancel: watch::Receiver<bool>,
}

impl Registration {
    /// Whether the work was cancelled by the kill switch.
    pub fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .remove(&self.id);
    }
}

impl Inflight {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers work of `project` and `key_id`; already cancelled when either is suspended.
    pub fn register(&self, project: &str, key_id: Option<String>, kind: Kind) -> Registration {
        let mut state = self.lock();
        let suspended = state.suspension(project, key_id.as_deref()).is_some();
        let (cancel, receiver) = watch::channel(suspended);
        let id = state.next_id;
        state.next_id += 1;
        state.entries.insert(
            id,
            Entry {
                project: project.to_owned(),
                key_id,
                kind,
                cancel,
            },
        );
        Registration {
            id,
            state: self.state.clone(),
            cancel: receiver,
        }
    }

    /// The suspension that applies to `project` and `key_id`, if any (the project's first).
    pub fn suspension(&self, project: &str, key_id: Option<&str>) -> Option<Target> {
        self.lock().suspension(project, key_id)
    }

    /// Suspends `target` and cancels its registered work; returns how many
    /// (requests, foreground responses) were cancelled.
    pub fn suspend(&self, target: &Target) -> (usize, usize) {
        let mut state = self.lock();
        state.suspended.insert(target.clone());
        let mut cancelled = (0, 0);
        for entry in state.entries.values() {
            let matches = match target {
                Target::Project(project) => entry.project == *project,
                Target::Key(key) => entry.key_id.as_deref() == Some(key.as_str()),
            };
            if matches && !*entry.cancel.borrow() {
                let _ = entry.cancel.send(true);
                match entry.kind {
                    Kind::Request => cancelled.0 += 1,
                    Kind::Response => cancelled.1 += 1,
                }
            }
        }
        cancelled
    }

    /// Lifts a suspension (new work is accepted again).
    pub fn resume(&self, target: &Target) {
        self.lock().suspended.remove(target);
    }

    /// Whether `target` is suspended itself.
    pub fn is_suspended(&self, target: &Target) -> bool {
        self.lock().suspended.contains(target)
    }

    /// Remembers that `key_id` created the background response or run `object_id`.
    pub async fn created(&self, object_id: &str, key_id: String) {
        self.created_by.insert(object_id.to_owned(), key_id).await;
    }

    /// The key that created a background response or run (as far as remembered).
    pub async fn creator_of(&self, object_id: &str) -> Option<String> {
        self.created_by.get(object_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspending_cancels_matching_work_and_new_work_starts_cancelled() {
        let inflight = Inflight::default();
        let alpha = inflight.register("alpha", Some("key_a".into()), Kind::Response);
        let other_key = inflight.register("alpha", Some("key_b".into()), Kind::Request);
        let beta = inflight.register("beta", Some("key_c".into()), Kind::Response);
        assert_eq!(
            inflight.suspend(&Target::Key("key_a".into())),
            (0, 1),
            "only the key's work"
        );
        assert!(alpha.cancelled() && !other_key.cancelled());
        assert_eq!(inflight.suspend(&Target::Project("alpha".into())), (1, 0));
        assert!(other_key.cancelled() && !beta.cancelled());
        assert!(inflight.register("alpha", None, Kind::Request).cancelled());
        inflight.resume(&Target::Project("alpha".into()));
        assert!(!inflight
            .register("alpha", Some("key_b".into()), Kind::Request)
            .cancelled());
        assert_eq!(
            inflight.suspension("alpha", Some("key_a")),
            Some(Target::Key("key_a".into()))
        );
    }

    #[test]
    fn a_dropped_registration_is_forgotten() {
        let inflight = Inflight::default();
        drop(inflight.register("alpha", None, Kind::Request));
        assert_eq!(inflight.suspend(&Target::Project("alpha".into())), (0, 0));
    }

    #[tokio::test]
    async fn the_caller_is_known_inside_its_scope_only() {
        let caller = CallerScope {
            project: "alpha".into(),
            key_id: Some("key_a".into()),
        };
        assert_eq!(current_key(), None);
        let seen = scope(caller, async { current_key() }).await;
        assert_eq!(seen.as_deref(), Some("key_a"));
    }
}
