//! The coordinator of one process among several on one database. What runs
//! here is still coordinated in memory (an [`InProcess`] inside); what crosses
//! processes goes through the database's [`SharedStore`]:
//!
//! * a signal (`NOTIFY`) wakes idle workers, reaches the owner of work that
//!   another process asked to cancel, and wakes the followers of a response
//!   whose event log grew; nothing depends on it alone: every `poll` interval
//!   this process also re-reads the cancel flags of its running work, the
//!   suspensions and the keys revoked lately, and its followers re-read the
//!   event log;
//! * a response running elsewhere is followed from its event log (which its
//!   owner writes in batches, at least every `events::FLUSH_INTERVAL`);
//! * suspensions are the stored ones: each process applies them to its own
//!   in-flight work when it hears of them;
//! * rate limits count in the database (see `store::postgres::shared`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{broadcast, watch};

use super::in_process::InProcess;
use super::live::{Frames, LiveResponse};
use super::window::{reading, Window};
use super::{Coordinator, RateCheck, RateKind, RateReading, Work};
use crate::inflight::{Inflight, Target};
use crate::store::access::AccessStore;
use crate::store::responses::ResponseStore;
use crate::store::shared::{RateLimitsAt, SharedStore, Signal};
use crate::stream::sse::is_terminal_response_frame;

/// The coordinator of a process that shares its database.
#[derive(Debug)]
pub struct SharedCoordinator {
    here: InProcess,
    shared: Arc<dyn SharedStore>,
    responses: Arc<dyn ResponseStore>,
    access: Arc<dyn AccessStore>,
    poll: Duration,
    /// Bumped whenever some response's event log may have grown.
    events: watch::Sender<u64>,
    /// The suspensions applied here.
    suspended: Mutex<HashSet<Target>>,
    /// Bumped by every suspension or resume published here, so that a
    /// re-read of the stored ones that started before it is not applied.
    published: AtomicU64,
}

impl SharedCoordinator {
    /// A coordinator named `replica` whose suspensions act on `inflight`,
    /// polling every `poll`; it listens until it is dropped.
    pub fn start(
        replica: String,
        inflight: Inflight,
        shared: Arc<dyn SharedStore>,
        responses: Arc<dyn ResponseStore>,
        access: Arc<dyn AccessStore>,
        poll: Duration,
    ) -> Arc<Self> {
        let signals = shared.signals();
        let coordinator = Arc::new(Self {
            here: InProcess::new(replica, inflight),
            shared,
            responses,
            access,
            poll: poll.max(Duration::from_millis(10)),
            events: watch::channel(0).0,
            suspended: Mutex::default(),
            published: AtomicU64::new(0),
        });
        tokio::spawn(listen(Arc::downgrade(&coordinator), signals));
        coordinator
    }

    fn events_may_have_grown(&self) {
        self.events.send_modify(|version| *version += 1);
    }

    /// Acts on one signal.
    async fn hear(&self, signal: Signal) {
        match signal {
            Signal::WorkQueued => self.here.wake_workers(),
            Signal::Events(_) => self.events_may_have_grown(),
            Signal::Cancel(id) => {
                if !self.here.cancel_here(Work::Response(&id)) {
                    self.here.cancel_here(Work::Run(&id));
                }
            }
            Signal::Suspensions => self.read_suspensions().await,
            Signal::KeyRevoked(hash) => self.here.publish_key_revoked(&hash),
            Signal::Reconnected => self.poll_once(None).await,
        }
    }

    /// Re-reads what signals would have said. `revoked_since`: the Unix
    /// second from which revoked keys are re-announced (`None`: the last
    /// minute's).
    async fn poll_once(&self, revoked_since: Option<i64>) {
        self.events_may_have_grown();
        self.here.wake_workers();
        self.read_suspensions().await;
        let running = self.here.running_here();
        match self.shared.cancels_requested(&running).await {
            Ok(cancelled) => {
                for id in cancelled {
                    self.here.cancel_here(Work::Response(&id));
                    self.here.cancel_here(Work::Run(&id));
                }
            }
            Err(error) => tracing::warn!(%error, "could not read the cancels asked elsewhere"),
        }
        let since = revoked_since.unwrap_or_else(|| crate::wire::ids::unix_now() - 60);
        match self.shared.keys_revoked_since(since).await {
            Ok(hashes) => {
                for hash in hashes {
                    self.here.publish_key_revoked(&hash);
                }
            }
            Err(error) => tracing::warn!(%error, "could not read the revoked keys"),
        }
    }

    /// Applies the stored suspensions here (suspends the new ones, lifts the
    /// ones gone), unless this process published one meanwhile.
    async fn read_suspensions(&self) {
        let before = self.published.load(Ordering::SeqCst);
        let stored = match self.access.suspensions().await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(%error, "could not read the suspensions");
                return;
            }
        };
        let stored: HashSet<Target> = stored
            .into_iter()
            .filter_map(|(kind, name)| Target::from_stored(&kind, name))
            .collect();
        let mut suspended = self
            .suspended
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.published.load(Ordering::SeqCst) != before {
            return;
        }
        for target in stored.difference(&suspended) {
            let (requests, responses) = self.here.publish_suspension(target);
            tracing::warn!(
                target = target.name(),
                requests,
                responses,
                "suspended by another replica"
            );
        }
        for target in suspended.difference(&stored) {
            self.here.publish_resume(target);
        }
        *suspended = stored;
    }

    /// The frames of `response_id` from its event log after `after`, until
    /// its terminal frame; or, once its stored status is final, until the
    /// log stops growing for [`SETTLE`] (a response cancelled while queued
    /// has no terminal frame; one that ended has it written just before or
    /// after its final status).
    fn follow_log(&self, response_id: &str, project: &str, after: Option<u64>) -> Frames {
        let responses = self.responses.clone();
        let mut changes = self.events.subscribe();
        let poll = self.poll;
        let (response_id, project) = (response_id.to_owned(), project.to_owned());
        Box::pin(async_stream::stream! {
            let mut last = after;
            let mut final_since: Option<Instant> = None;
            loop {
                changes.borrow_and_update();
                let ended = match responses.get_response(&project, &response_id).await {
                    Ok(Some(stored)) => !matches!(stored.status.as_str(), "queued" | "in_progress"),
                    Ok(None) => true,
                    Err(error) => {
                        tracing::warn!(%error, %response_id, "could not read a followed response");
                        false
                    }
                };
                let mut terminal = false;
                match responses.events_after(&response_id, last).await {
                    Ok(frames) => {
                        if !frames.is_empty() {
                            final_since = None;
                        }
                        for (sequence_number, frame) in frames {
                            last = Some(sequence_number);
                            terminal = is_terminal_response_frame(&frame);
                            yield Bytes::from(frame);
                            if terminal {
                                break;
                            }
                        }
                    }
                    Err(error) => tracing::warn!(%error, %response_id, "could not read an event log"),
                }
                if terminal {
                    break;
                }
                if ended {
                    let since = *final_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= SETTLE {
                        break;
                    }
                }
                let _ = tokio::time::timeout(poll.min(SETTLE), changes.changed()).await;
            }
        })
    }
}

/// How long a follower waits for a terminal frame once the response's
/// stored status is final.
const SETTLE: Duration = Duration::from_millis(500);

/// Hears signals and polls until the coordinator is dropped.
async fn listen(coordinator: Weak<SharedCoordinator>, mut signals: broadcast::Receiver<Signal>) {
    let Some(poll) = coordinator.upgrade().map(|coordinator| coordinator.poll) else {
        return;
    };
    let mut ticks = tokio::time::interval(poll);
    let mut last_poll = crate::wire::ids::unix_now();
    loop {
        let heard = tokio::select! {
            signal = signals.recv() => Some(signal),
            _ = ticks.tick() => None,
        };
        let Some(coordinator) = coordinator.upgrade() else {
            return;
        };
        match heard {
            Some(Ok(signal)) => coordinator.hear(signal).await,
            Some(Err(broadcast::error::RecvError::Lagged(_))) => {
                coordinator.poll_once(None).await;
            }
            Some(Err(broadcast::error::RecvError::Closed)) => return,
            None => {
                let started = crate::wire::ids::unix_now();
                // A second of overlap: revocations are stored in whole seconds.
                coordinator.poll_once(Some(last_poll - 1)).await;
                last_poll = started;
            }
        }
    }
}

#[async_trait]
impl Coordinator for SharedCoordinator {
    fn replica(&self) -> &str {
        self.here.replica()
    }

    fn wake_workers(&self) {
        self.here.wake_workers();
    }

    async fn wait_for_work(&self, timeout: Duration) {
        self.here.wait_for_work(timeout).await;
    }

    fn live(&self, work: Work<'_>) -> Arc<LiveResponse> {
        self.here.live(work)
    }

    fn expect_queued(&self, _response_id: &str) {
        // Followers read the event log: whichever process claims it writes there.
    }

    fn find_live(&self, work: Work<'_>) -> Option<Arc<LiveResponse>> {
        self.here.find_live(work)
    }

    fn forget_live(&self, work: Work<'_>) {
        self.here.forget_live(work);
    }

    async fn request_cancel(&self, work: Work<'_>) -> bool {
        if self.here.cancel_here(work) {
            return true;
        }
        let id = match work {
            Work::Response(id) | Work::Run(id) => id,
        };
        match self.shared.request_cancel(id).await {
            Ok(owned) => owned,
            Err(error) => {
                tracing::warn!(%error, id, "could not ask for a cancel");
                false
            }
        }
    }

    fn follow_elsewhere(
        &self,
        response_id: &str,
        project: &str,
        status: &str,
        after: Option<u64>,
    ) -> Option<Frames> {
        matches!(status, "queued" | "in_progress")
            .then(|| self.follow_log(response_id, project, after))
    }

    fn publish_suspension(&self, target: &Target) -> (usize, usize) {
        self.published.fetch_add(1, Ordering::SeqCst);
        self.suspended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(target.clone());
        self.here.publish_suspension(target)
    }

    fn publish_resume(&self, target: &Target) {
        self.published.fetch_add(1, Ordering::SeqCst);
        self.suspended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(target);
        self.here.publish_resume(target);
    }

    fn suspension(&self, project: &str, key_id: Option<&str>) -> Option<Target> {
        self.here.suspension(project, key_id)
    }

    fn is_suspended(&self, target: &Target) -> bool {
        self.here.is_suspended(target)
    }

    fn publish_key_revoked(&self, key_hash: &str) {
        self.here.publish_key_revoked(key_hash);
    }

    fn key_revocations(&self) -> broadcast::Receiver<String> {
        self.here.key_revocations()
    }

    async fn admit(&self, key_id: &str, check: RateCheck) -> RateReading {
        let limits = RateLimitsAt {
            requests: check.requests_per_window,
            tokens: check.tokens_per_window,
            window_ms: i64::try_from(check.window.as_millis())
                .unwrap_or(i64::MAX)
                .max(1),
        };
        let windows = match self.shared.admit_request(key_id, limits).await {
            Ok(windows) => windows,
            Err(error) => {
                // Limits are not a reason to fail every request of a key.
                tracing::error!(%error, key_id, "could not count a request; admitted uncounted");
                return RateReading::default();
            }
        };
        let now = Instant::now();
        let length = check.window.max(Duration::from_millis(1));
        let mut read = RateReading::default();
        if let Some(limit) = check.requests_per_window {
            let mut window = Window::from_entries(now, windows.now_ms, &windows.requests);
            read.requests = Some(reading(&mut window, now, length, limit));
        }
        if let Some(limit) = check.tokens_per_window {
            let mut window = Window::from_entries(now, windows.now_ms, &windows.tokens);
            read.tokens = Some(reading(&mut window, now, length, limit));
        }
        if !windows.counted {
            let requests_full = read
                .requests
                .is_some_and(|window| window.used >= window.limit);
            read.refused = Some(if requests_full {
                RateKind::Requests
            } else {
                RateKind::Tokens
            });
        }
        read
    }

    async fn count_tokens(&self, key_id: &str, window: Duration, tokens: u64) {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        if let Err(error) = self.shared.add_rate_tokens(key_id, window_ms, tokens).await {
            tracing::error!(%error, key_id, "could not count a response's tokens");
        }
    }
}
