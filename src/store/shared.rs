//! What several processes on one database share beyond the aggregates: the
//! [`SharedStore`] trait, which only a store that several processes can open
//! at once implements (PostgreSQL; one process on SQLite has nobody to share
//! with, and its [`Store`](super::factory::Store) has none).
//!
//! * **Signals**: writes that others must hear about (work queued, events
//!   appended to a response's log, a cancel asked, suspensions changed, a key
//!   revoked) are announced on the database ([`Signal`]), at most once per
//!   write, never per token. A signal may be lost (a dropped connection):
//!   every reader also polls, so it only makes things faster.
//! * **Leases**: the owner renews the leases of the work it runs; work whose
//!   lease expired is taken over by another process with a higher fencing
//!   token, so the stalled owner's late writes are refused.
//! * **Cancels** of work another process runs: a flag on the work's row that
//!   its owner reads (and a signal).
//! * **Rate windows**: requests and tokens of limited keys, counted in the
//!   database so that a limit holds across every process.

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::error::StoreResult;
use super::lease::Lease;

/// Something another process wrote that this one may want to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// A background response was queued.
    WorkQueued,
    /// Frames were appended to a response's event log (by id).
    Events(String),
    /// A cancel was asked for running work (a response's or a run's id).
    Cancel(String),
    /// A project or key was suspended or resumed.
    Suspensions,
    /// A key was revoked (the hash of its secret).
    KeyRevoked(String),
    /// The signal connection was lost and is back: signals may have been
    /// missed, so read everything again.
    Reconnected,
}

impl Signal {
    /// The signal as a notification payload.
    pub fn encode(&self) -> String {
        match self {
            Self::WorkQueued => "work".into(),
            Self::Events(id) => format!("events:{id}"),
            Self::Cancel(id) => format!("cancel:{id}"),
            Self::Suspensions => "suspensions".into(),
            Self::KeyRevoked(hash) => format!("revoked:{hash}"),
            Self::Reconnected => "reconnected".into(),
        }
    }

    /// A notification payload as a signal (`None` for an unknown one).
    pub fn decode(payload: &str) -> Option<Self> {
        let (kind, value) = payload.split_once(':').unwrap_or((payload, ""));
        Some(match (kind, value.to_owned()) {
            ("work", _) => Self::WorkQueued,
            ("events", id) if !id.is_empty() => Self::Events(id),
            ("cancel", id) if !id.is_empty() => Self::Cancel(id),
            ("suspensions", _) => Self::Suspensions,
            ("revoked", hash) if !hash.is_empty() => Self::KeyRevoked(hash),
            ("reconnected", _) => Self::Reconnected,
            _ => return None,
        })
    }
}

/// A response whose owner's lease expired, now held by the taker.
#[derive(Debug, Clone)]
pub struct TakenOver {
    pub id: String,
    /// The stored response (JSON text).
    pub body: String,
    pub background: bool,
    /// The taker's lease (its fence is higher than the stalled owner's).
    pub lease: Lease,
}

/// One entry of a rate window: when (milliseconds on the database's clock)
/// and how much.
pub type RateEntry = (i64, u64);

/// A key's windows as read when a request was admitted or refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateWindows {
    /// The database's clock then, in milliseconds.
    pub now_ms: i64,
    /// The counted requests in the window, oldest first (after counting this one).
    pub requests: Vec<RateEntry>,
    /// The counted tokens in the window, oldest first.
    pub tokens: Vec<RateEntry>,
    /// Whether this request was counted (neither limit was reached).
    pub counted: bool,
}

/// The limits a request is admitted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitsAt {
    pub requests: Option<u64>,
    pub tokens: Option<u64>,
    pub window_ms: i64,
}

/// What processes sharing one database coordinate through it.
#[async_trait]
pub trait SharedStore: Send + Sync + std::fmt::Debug {
    /// The signals from now on (every process's, this one's included).
    fn signals(&self) -> broadcast::Receiver<Signal>;

    /// How long a lease lasts unless renewed.
    fn lease_length(&self) -> std::time::Duration;

    /// Extends every lease `holder` has on running work; how many.
    async fn renew_leases(&self, holder: &str) -> StoreResult<u64>;

    /// Takes over, for `holder`, the running responses whose lease expired
    /// (each taken by one process only); the caller settles them.
    async fn take_over_expired_responses(&self, holder: &str) -> StoreResult<Vec<TakenOver>>;

    /// Fails the Assistants runs whose lease expired (with their open steps
    /// and messages), fencing their owner; their ids.
    async fn fail_expired_runs(&self, now: i64) -> StoreResult<Vec<String>>;

    /// Queued runs that nobody started for a lease's length (their process
    /// stopped before it could): any process may run them.
    async fn stranded_queued_runs(&self, now: i64) -> StoreResult<Vec<String>>;

    /// Releases conversation marks whose response is no longer running and
    /// that are older than a lease; how many.
    async fn release_stranded_locks(&self, now: i64) -> StoreResult<u64>;

    /// Asks the owner of a running response or run to stop (a flag its owner
    /// reads, and a signal). False when no live owner holds it (it ended, or
    /// its lease expired).
    async fn request_cancel(&self, id: &str) -> StoreResult<bool>;

    /// Which of these responses and runs were asked to stop.
    async fn cancels_requested(&self, ids: &[String]) -> StoreResult<Vec<String>>;

    /// Keys revoked at `since` (Unix seconds) or later: their hashes.
    async fn keys_revoked_since(&self, since: i64) -> StoreResult<Vec<String>>;

    /// Counts one request of `key_id` unless a limit is reached; the windows
    /// as read.
    async fn admit_request(&self, key_id: &str, limits: RateLimitsAt) -> StoreResult<RateWindows>;

    /// Counts a finished response's tokens against `key_id`'s token window
    /// (`window_ms` long: what left it is dropped).
    async fn add_rate_tokens(&self, key_id: &str, window_ms: i64, tokens: u64) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_survive_their_payload() {
        for signal in [
            Signal::WorkQueued,
            Signal::Events("resp_1".into()),
            Signal::Cancel("run_1".into()),
            Signal::Suspensions,
            Signal::KeyRevoked("abc".into()),
            Signal::Reconnected,
        ] {
            assert_eq!(Signal::decode(&signal.encode()), Some(signal));
        }
        assert_eq!(Signal::decode("events:"), None);
        assert_eq!(Signal::decode("something-else"), None);
    }
}
