//! The coordination seam: what one process does in memory for the others to
//! see, behind the [`Coordinator`] trait. Waking an idle worker when work is
//! queued; the live handle of running work (the frames its followers read, its
//! snapshot, its cancel signal); publishing suspensions and key revocations;
//! counting rate-limit usage. (Claiming queued work is the store's: it is a
//! row that one owner takes under a lease, see `store::lease`.)
//!
//! [`in_process::InProcess`] is the implementation for one process;
//! [`shared::SharedCoordinator`] the one for several processes on one
//! database (PostgreSQL), which does this:
//! - **wake**: a notification on the database (PostgreSQL `NOTIFY`) wakes the
//!   other processes' idle workers, which also poll, so a lost notification
//!   costs one polling interval, not the work;
//! - **live work**: the owner keeps its [`live::LiveResponse`] and writes its
//!   frames to the event log as today; a follower on another process reads the
//!   log (woken by a notification per flushed batch, never per token) and the
//!   stored snapshot; a cancel is a flag on the work's row plus a
//!   notification, and the owner polls the flag while it streams;
//! - **suspensions and revocations**: written to the database first (the
//!   store does that), then announced; every process re-reads them on a
//!   notification and on a short timer, and drops its cached keys;
//! - **rate limits**: counted in the database (one row per key and window
//!   slice, incremented in the same statement that checks it), so a limit of
//!   10 a minute is 10 across all processes;
//! - **recovery**: not "fail everything in progress" at start-up (that would
//!   touch a live replica's work) but per lease: only work whose lease expired
//!   is taken over, with a higher fencing token (see `engine::recovery`).

pub mod in_process;
pub mod live;
pub mod shared;
pub mod window;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::inflight::Target;
use live::{Frames, LiveResponse};

/// Running work that others follow or signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Work<'a> {
    /// A background response, by id.
    Response(&'a str),
    /// An Assistants run, by id.
    Run(&'a str),
}

/// A key's rate limits and the window they count over.
#[derive(Debug, Clone, Copy)]
pub struct RateCheck {
    pub requests_per_window: Option<u64>,
    pub tokens_per_window: Option<u64>,
    pub window: Duration,
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateKind {
    Requests,
    Tokens,
}

/// One limit's state after a request was counted (or refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowReading {
    pub limit: u64,
    /// What the window holds now.
    pub used: u64,
    /// How long until the window is empty.
    pub reset: Duration,
    /// How long until one more would be allowed (zero when it is now).
    pub wait: Duration,
}

/// What [`Coordinator::admit`] decided and read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateReading {
    pub requests: Option<WindowReading>,
    pub tokens: Option<WindowReading>,
    /// The limit that refused the request (nothing was counted then).
    pub refused: Option<RateKind>,
}

/// Coordination between the work of this process and everyone else's.
#[async_trait]
pub trait Coordinator: Send + Sync + std::fmt::Debug {
    /// This process's name: the holder of the leases on the work it runs.
    fn replica(&self) -> &str;

    /// Work was queued: wake an idle worker.
    fn wake_workers(&self);

    /// What an idle worker waits for: a wake-up, or `timeout`.
    async fn wait_for_work(&self, timeout: Duration);

    /// The live handle of running work, made if it has none yet: its owner
    /// publishes frames and snapshots to it and watches its cancel signal;
    /// followers read it.
    fn live(&self, work: Work<'_>) -> Arc<LiveResponse>;

    /// A background response was just queued: a follower may attach before
    /// a worker claims it (in one process, to the live handle the worker
    /// will use; across processes followers read the event log instead).
    fn expect_queued(&self, response_id: &str);

    /// The live handle of running work, if it has one.
    fn find_live(&self, work: Work<'_>) -> Option<Arc<LiveResponse>>;

    /// Drops the live handle of work that has ended.
    fn forget_live(&self, work: Work<'_>);

    /// Asks the owner of running work to stop, wherever it runs; false when
    /// nothing is running it (it has ended, never started, or its owner
    /// stopped and its lease ran out).
    async fn request_cancel(&self, work: Work<'_>) -> bool;

    /// The frames of a background response that is not running in this
    /// process, after `after`, until it ends; `None` when there is nothing to
    /// follow (it has ended: its event log says everything). `status` is its
    /// stored status, read just before.
    fn follow_elsewhere(
        &self,
        response_id: &str,
        project: &str,
        status: &str,
        after: Option<u64>,
    ) -> Option<Frames>;

    /// Suspends `target` everywhere: new work of it is refused and its
    /// running foreground work stops. Returns what this process stopped:
    /// (requests, foreground responses).
    fn publish_suspension(&self, target: &Target) -> (usize, usize);

    /// Lifts a suspension everywhere.
    fn publish_resume(&self, target: &Target);

    /// The suspension that applies to `project` and `key_id`, if any.
    fn suspension(&self, project: &str, key_id: Option<&str>) -> Option<Target>;

    /// Whether `target` itself is suspended.
    fn is_suspended(&self, target: &Target) -> bool;

    /// A key (by the hash of its secret) was revoked: every process forgets
    /// what it cached of it.
    fn publish_key_revoked(&self, key_hash: &str);

    /// The revocations published from now on (key hashes).
    fn key_revocations(&self) -> broadcast::Receiver<String>;

    /// Counts one request of `key_id` against `check`'s limits, unless one of
    /// them is reached (then nothing is counted); what each limit reads.
    async fn admit(&self, key_id: &str, check: RateCheck) -> RateReading;

    /// Counts the tokens of a finished response against `key_id`'s token
    /// window (when it has one).
    async fn count_tokens(&self, key_id: &str, window: Duration, tokens: u64);
}
