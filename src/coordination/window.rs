//! A sliding-window log: amounts (one per request, or the tokens of a finished
//! response) with the instant they happened; what counts is the sum of the
//! amounts younger than the window. Exact, no bucket edges: a limit of 3 per
//! minute never lets a fourth request through within any 60 seconds. Pure (the
//! caller passes `now`), so it is tested without sleeping.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::WindowReading;

/// The amounts of one key inside the window.
#[derive(Debug, Default)]
pub struct Window {
    entries: VecDeque<(Instant, u64)>,
    total: u64,
}

impl Window {
    /// Forgets what is older than `length`.
    fn prune(&mut self, now: Instant, length: Duration) {
        while let Some(&(at, amount)) = self.entries.front() {
            if now.saturating_duration_since(at) < length {
                break;
            }
            self.entries.pop_front();
            self.total = self.total.saturating_sub(amount);
        }
    }

    /// The sum of the amounts inside the window.
    pub fn used(&mut self, now: Instant, length: Duration) -> u64 {
        self.prune(now, length);
        self.total
    }

    /// Counts `amount` now.
    pub fn add(&mut self, now: Instant, amount: u64) {
        if amount == 0 {
            return;
        }
        self.entries.push_back((now, amount));
        self.total = self.total.saturating_add(amount);
    }

    /// How long until the sum is at most `target` (zero when it already is).
    /// Call after [`used`](Self::used) with the same `now`.
    pub fn time_until_at_most(&self, now: Instant, length: Duration, target: u64) -> Duration {
        let mut remaining = self.total;
        for &(at, amount) in &self.entries {
            if remaining <= target {
                break;
            }
            remaining = remaining.saturating_sub(amount);
            if remaining <= target {
                return (at + length).saturating_duration_since(now);
            }
        }
        Duration::ZERO
    }

    /// Whether nothing is inside the window any more (the entry can be dropped).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Window {
    /// A window holding `entries` (milliseconds on another clock, whose
    /// reading now is `now_ms`), placed on this process's clock at `now`.
    pub fn from_entries(now: Instant, now_ms: i64, entries: &[(i64, u64)]) -> Self {
        let mut window = Self::default();
        for &(at_ms, amount) in entries {
            let age = Duration::from_millis(u64::try_from(now_ms - at_ms).unwrap_or(0));
            window.add(now.checked_sub(age).unwrap_or(now), amount);
        }
        window
    }
}

/// What `window` reads against `limit` at `now`.
pub fn reading(window: &mut Window, now: Instant, length: Duration, limit: u64) -> WindowReading {
    let used = window.used(now, length);
    WindowReading {
        limit,
        used,
        reset: window.time_until_at_most(now, length, 0),
        wait: window.time_until_at_most(now, length, limit.saturating_sub(1)),
    }
}

/// A duration as OpenAI writes it in `x-ratelimit-reset-*` and its messages:
/// `250ms`, `20s`, `1.5s`, `6m0s`.
pub fn human_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    if millis < 60_000 {
        let seconds = millis as f64 / 1000.0;
        let text = format!("{seconds:.3}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        return format!("{text}s");
    }
    let seconds = duration.as_secs();
    format!("{}m{}s", seconds / 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn amounts_leave_the_window_when_it_has_passed_them() {
        let start = Instant::now();
        let mut window = Window::default();
        window.add(start, 1);
        window.add(start + Duration::from_secs(20), 1);
        window.add(start + Duration::from_secs(40), 1);
        assert_eq!(window.used(start + Duration::from_secs(59), MINUTE), 3);
        let now = start + Duration::from_secs(59);
        assert_eq!(
            window.time_until_at_most(now, MINUTE, 2),
            Duration::from_secs(1)
        );
        assert_eq!(
            window.time_until_at_most(now, MINUTE, 0),
            Duration::from_secs(41)
        );
        assert_eq!(window.used(start + MINUTE, MINUTE), 2);
        assert_eq!(window.used(start + Duration::from_secs(100), MINUTE), 0);
        assert!(window.is_empty());
    }

    #[test]
    fn token_amounts_add_up_and_expire_together() {
        let start = Instant::now();
        let mut window = Window::default();
        window.add(start, 70);
        window.add(start + Duration::from_secs(30), 50);
        let now = start + Duration::from_secs(45);
        assert_eq!(window.used(now, MINUTE), 120);
        assert_eq!(
            window.time_until_at_most(now, MINUTE, 99),
            Duration::from_secs(15)
        );
    }

    #[test]
    fn durations_are_written_like_openais() {
        assert_eq!(human_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(human_duration(Duration::from_secs(20)), "20s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human_duration(Duration::from_secs(360)), "6m0s");
    }
}
