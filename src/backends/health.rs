//! Backend health: a circuit breaker per backend, fed by passive failure
//! counting (every call the gateway makes) and by active probes.
//!
//! `closed` (calls go through) → after `failure_threshold` consecutive failures
//! → `open` (calls skip this backend) → after `cooldown` → `half_open` (one trial
//! call may go through) → `closed` on success, back to `open` on failure. A
//! trial whose outcome never comes (its client left) frees its slot after
//! another `cooldown`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The breaker's state, as reported in metrics (0 closed, 1 half-open, 2 open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    HalfOpen,
    Open,
}

impl CircuitState {
    /// The number metrics report.
    pub fn as_gauge(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::HalfOpen => 1,
            Self::Open => 2,
        }
    }
}

#[derive(Debug)]
struct Inner {
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    /// When the half-open trial went out, if one is out.
    trial_started: Option<Instant>,
}

/// One backend's circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    failure_threshold: u32,
    cooldown: Duration,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker that opens after `failure_threshold` failures in a row
    /// and lets a trial through after `cooldown`.
    pub fn new(failure_threshold: u32, cooldown: Duration) -> Self {
        Self {
            failure_threshold: failure_threshold.max(1),
            cooldown,
            inner: Mutex::new(Inner {
                consecutive_failures: 0,
                opened_at: None,
                trial_started: None,
            }),
        }
    }

    /// The current state.
    pub fn state(&self) -> CircuitState {
        let Ok(inner) = self.inner.lock() else {
            return CircuitState::Closed;
        };
        match inner.opened_at {
            None => CircuitState::Closed,
            Some(opened) if opened.elapsed() >= self.cooldown => CircuitState::HalfOpen,
            Some(_) => CircuitState::Open,
        }
    }

    /// Whether a call may go to this backend now (in half-open, only one trial at a time).
    pub fn allow(&self) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return true;
        };
        let trial_out = inner
            .trial_started
            .is_some_and(|started| started.elapsed() < self.cooldown);
        match inner.opened_at {
            None => true,
            Some(opened) if opened.elapsed() >= self.cooldown && !trial_out => {
                inner.trial_started = Some(Instant::now());
                true
            }
            Some(_) => false,
        }
    }

    /// A call succeeded: the breaker closes.
    pub fn record_success(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.consecutive_failures = 0;
            inner.opened_at = None;
            inner.trial_started = None;
        }
    }

    /// A call failed: count it, and open (or re-open) the breaker at the threshold.
    pub fn record_failure(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
            let trial_failed = inner.trial_started.take().is_some();
            if trial_failed || inner.consecutive_failures >= self.failure_threshold {
                inner.opened_at = Some(Instant::now());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_after_the_threshold_and_recovers_through_half_open() {
        let breaker = CircuitBreaker::new(2, Duration::from_millis(30));
        assert!(breaker.allow());
        breaker.record_failure();
        assert_eq!(breaker.state(), CircuitState::Closed);
        breaker.record_failure();
        assert_eq!(breaker.state(), CircuitState::Open);
        assert!(!breaker.allow());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert!(breaker.allow(), "one trial");
        assert!(!breaker.allow(), "only one trial at a time");
        breaker.record_failure();
        assert_eq!(
            breaker.state(),
            CircuitState::Open,
            "a failed trial re-opens"
        );
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow());
        breaker.record_success();
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[test]
    fn a_trial_that_never_reports_frees_its_slot_after_the_cooldown() {
        let breaker = CircuitBreaker::new(1, Duration::from_millis(30));
        breaker.record_failure();
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow(), "the trial");
        assert!(!breaker.allow(), "the trial is out");
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow(), "its outcome never came: a new trial");
    }
}
