//! The coordinator of one process: everything in its memory. Workers wake on
//! a [`Notify`]; live work sits in two registries (background responses,
//! runs); suspensions go to the process's [`Inflight`] registry, which stops
//! the matching work at once; key revocations go out on a broadcast channel;
//! rate limits count in sliding-window logs per key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::{broadcast, Notify};

use super::live::{Frames, LiveRegistry, LiveResponse};
use super::window::{reading, Window};
use super::{Coordinator, RateCheck, RateKind, RateReading, Work};
use crate::inflight::{Inflight, Target};

/// A key's windows.
#[derive(Debug, Default)]
struct KeyWindows {
    requests: Window,
    /// Only for keys with a token limit (nothing is kept for the others).
    tokens: Option<Window>,
}

/// The coordinator of a single process.
#[derive(Debug)]
pub struct InProcess {
    replica: String,
    wake: Notify,
    responses: LiveRegistry,
    runs: LiveRegistry,
    inflight: Inflight,
    revocations: broadcast::Sender<String>,
    windows: Mutex<HashMap<String, KeyWindows>>,
}

impl InProcess {
    /// A coordinator named `replica` whose suspensions act on `inflight`.
    pub fn new(replica: String, inflight: Inflight) -> Self {
        Self {
            replica,
            wake: Notify::new(),
            responses: LiveRegistry::default(),
            runs: LiveRegistry::default(),
            inflight,
            revocations: broadcast::channel(64).0,
            windows: Mutex::default(),
        }
    }

    fn registry<'a>(&self, work: Work<'a>) -> (&LiveRegistry, &'a str) {
        match work {
            Work::Response(id) => (&self.responses, id),
            Work::Run(id) => (&self.runs, id),
        }
    }

    /// Asks work running in this process to stop; false when it does not run here.
    pub fn cancel_here(&self, work: Work<'_>) -> bool {
        let live = self.find_live(work);
        if let Some(live) = &live {
            live.request_cancel();
        }
        live.is_some()
    }

    /// The ids of the responses and runs running in this process.
    pub fn running_here(&self) -> Vec<String> {
        let mut ids = self.responses.ids();
        ids.extend(self.runs.ids());
        ids
    }
}

#[async_trait]
impl Coordinator for InProcess {
    fn replica(&self) -> &str {
        &self.replica
    }

    fn wake_workers(&self) {
        self.wake.notify_one();
    }

    async fn wait_for_work(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.wake.notified()).await;
    }

    fn live(&self, work: Work<'_>) -> Arc<LiveResponse> {
        let (registry, id) = self.registry(work);
        registry.get_or_create(id)
    }

    fn expect_queued(&self, response_id: &str) {
        self.live(Work::Response(response_id));
    }

    fn find_live(&self, work: Work<'_>) -> Option<Arc<LiveResponse>> {
        let (registry, id) = self.registry(work);
        registry.get(id)
    }

    fn forget_live(&self, work: Work<'_>) {
        let (registry, id) = self.registry(work);
        registry.remove(id);
    }

    async fn request_cancel(&self, work: Work<'_>) -> bool {
        self.cancel_here(work)
    }

    fn follow_elsewhere(
        &self,
        response_id: &str,
        _project: &str,
        status: &str,
        after: Option<u64>,
    ) -> Option<Frames> {
        // Queued: the worker that claims it here will publish to this entry.
        // In progress but not live here: it ended meanwhile.
        (status == "queued").then(|| {
            let live = self.live(Work::Response(response_id));
            Box::pin(live.follow(after)) as Frames
        })
    }

    fn publish_suspension(&self, target: &Target) -> (usize, usize) {
        self.inflight.suspend(target)
    }

    fn publish_resume(&self, target: &Target) {
        self.inflight.resume(target);
    }

    fn suspension(&self, project: &str, key_id: Option<&str>) -> Option<Target> {
        self.inflight.suspension(project, key_id)
    }

    fn is_suspended(&self, target: &Target) -> bool {
        self.inflight.is_suspended(target)
    }

    fn publish_key_revoked(&self, key_hash: &str) {
        // No receiver is not an error: nobody caches keys yet.
        let _ = self.revocations.send(key_hash.to_owned());
    }

    fn key_revocations(&self) -> broadcast::Receiver<String> {
        self.revocations.subscribe()
    }

    async fn admit(&self, key_id: &str, check: RateCheck) -> RateReading {
        let now = Instant::now();
        let length = check.window.max(Duration::from_millis(1));
        let mut keys = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let windows = keys.entry(key_id.to_owned()).or_default();
        let mut read = RateReading::default();
        if let Some(limit) = check.requests_per_window {
            let before = reading(&mut windows.requests, now, length, limit);
            if before.used >= limit {
                read.refused = Some(RateKind::Requests);
            }
            read.requests = Some(before);
        }
        if let Some(limit) = check.tokens_per_window {
            let tokens = windows.tokens.get_or_insert_with(Window::default);
            let before = reading(tokens, now, length, limit);
            if read.refused.is_none() && before.used >= limit {
                read.refused = Some(RateKind::Tokens);
            }
            read.tokens = Some(before);
        }
        if let (None, Some(limit)) = (read.refused, check.requests_per_window) {
            windows.requests.add(now, 1);
            read.requests = Some(reading(&mut windows.requests, now, length, limit));
        }
        read
    }

    async fn count_tokens(&self, key_id: &str, window: Duration, tokens: u64) {
        let now = Instant::now();
        let mut keys = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tokens_window) = keys
            .get_mut(key_id)
            .and_then(|windows| windows.tokens.as_mut())
        {
            tokens_window.used(now, window.max(Duration::from_millis(1)));
            tokens_window.add(now, tokens);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coordinator() -> InProcess {
        InProcess::new("replica_test".into(), Inflight::default())
    }

    #[tokio::test]
    async fn the_request_over_the_limit_is_refused_and_not_counted() {
        let coordinator = coordinator();
        let check = RateCheck {
            requests_per_window: Some(2),
            tokens_per_window: None,
            window: Duration::from_secs(60),
        };
        let first = coordinator.admit("k", check).await;
        assert_eq!(first.refused, None);
        assert_eq!(first.requests.unwrap().used, 1);
        assert_eq!(
            coordinator.admit("k", check).await.requests.unwrap().used,
            2
        );
        let third = coordinator.admit("k", check).await;
        assert_eq!(third.refused, Some(RateKind::Requests));
        assert_eq!(third.requests.unwrap().used, 2, "a refusal is not counted");
        assert!(third.requests.unwrap().wait > Duration::from_secs(59));
        assert_eq!(
            coordinator.admit("other", check).await.refused,
            None,
            "per key"
        );
    }

    #[tokio::test]
    async fn tokens_count_against_the_key_that_has_a_token_limit() {
        let coordinator = coordinator();
        let check = RateCheck {
            requests_per_window: None,
            tokens_per_window: Some(100),
            window: Duration::from_secs(60),
        };
        assert_eq!(coordinator.admit("k", check).await.refused, None);
        coordinator.count_tokens("k", check.window, 150).await;
        coordinator
            .count_tokens("no-limit", check.window, 150)
            .await;
        let refused = coordinator.admit("k", check).await;
        assert_eq!(refused.refused, Some(RateKind::Tokens));
        assert_eq!(refused.tokens.unwrap().used, 150);
        assert_eq!(coordinator.admit("no-limit", check).await.refused, None);
    }

    #[tokio::test]
    async fn a_wake_reaches_a_waiting_worker_and_live_work_is_found_by_kind() {
        let coordinator = Arc::new(coordinator());
        let waiting = {
            let coordinator = coordinator.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                coordinator.wait_for_work(Duration::from_secs(30)).await;
                started.elapsed()
            })
        };
        tokio::task::yield_now().await;
        coordinator.wake_workers();
        assert!(waiting.await.unwrap() < Duration::from_secs(30));
        let live = coordinator.live(Work::Response("resp_1"));
        assert!(Arc::ptr_eq(
            &live,
            &coordinator.find_live(Work::Response("resp_1")).unwrap()
        ));
        assert!(coordinator.find_live(Work::Run("resp_1")).is_none());
        assert!(coordinator.request_cancel(Work::Response("resp_1")).await);
        assert!(*live.cancel_signal().borrow(), "the owner sees the cancel");
        assert!(!coordinator.request_cancel(Work::Run("resp_1")).await);
        coordinator.forget_live(Work::Response("resp_1"));
        assert!(coordinator.find_live(Work::Response("resp_1")).is_none());
    }

    #[tokio::test]
    async fn revocations_and_suspensions_reach_their_listeners() {
        let coordinator = coordinator();
        let mut revoked = coordinator.key_revocations();
        coordinator.publish_key_revoked("hash_1");
        assert_eq!(revoked.recv().await.unwrap(), "hash_1");
        let project = Target::Project("alpha".into());
        coordinator.publish_suspension(&project);
        assert_eq!(coordinator.suspension("alpha", None), Some(project.clone()));
        coordinator.publish_resume(&project);
        assert_eq!(coordinator.suspension("alpha", None), None);
    }
}
