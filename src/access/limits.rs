//! Per-key rate limits and per-project daily token budgets.
//!
//! * Requests per minute: every admitted request of a limited key is counted
//!   in a sliding window (see `window`); one that would go over the limit is a
//!   429 `rate_limit_exceeded` of type `requests`.
//! * Tokens per minute: a response or completion's tokens are counted when it
//!   finishes (its `usage`), so the requests after it see them; a request made
//!   while the window holds the limit or more is a 429 of type `tokens`.
//! * Daily budgets: a project's tokens are added up per UTC day in SQLite (a
//!   restart does not reset them); at or over its `daily_token_budget` the
//!   project gets 429 `insufficient_quota`, with `x-should-retry: false`
//!   since retrying cannot help before the next day. The tokens of projects
//!   with a budget are written at once; those of the others are summed in
//!   memory and written by one task every [`USAGE_FLUSH`] (one SQLite write
//!   per request cost a quarter of the gateway's CPU at 2,000 chat
//!   completions a second, and concurrent writers queue on SQLite's lock).
//!
//! Every answer to a limited key carries OpenAI's `x-ratelimit-*` headers;
//! a 429 adds `Retry-After` (seconds) and `retry-after-ms`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::coordination::window::human_duration;
use crate::coordination::{Coordinator, RateCheck, RateKind};
use crate::store::access::AccessStore;
use crate::store::error::StoreResult;
use crate::wire::error::{ApiError, ErrorBody};
use crate::wire::ids::unix_now;

/// A key's limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
}

impl RateLimits {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.requests_per_minute.is_some() || self.tokens_per_minute.is_some()
    }
}

/// The limiter and the budgets (cheap to clone; clones share them).
#[derive(Debug, Clone)]
pub struct Limits {
    window: Duration,
    /// Where requests and tokens are counted (shared by every process).
    coordinator: Arc<dyn Coordinator>,
    budgets: Arc<HashMap<String, u64>>,
    store: Arc<dyn AccessStore>,
    pending: Arc<Mutex<PendingUsage>>,
}

/// How long the tokens of a project without a budget may wait to be written.
pub const USAGE_FLUSH: Duration = Duration::from_millis(500);

/// Tokens counted but not yet written, by project and day.
#[derive(Debug, Default)]
struct PendingUsage {
    tokens: HashMap<(String, i64), u64>,
    /// Whether a write is scheduled.
    scheduled: bool,
}

/// The current UTC day, in days since the Unix epoch.
pub fn today() -> i64 {
    unix_now().div_euclid(86_400)
}

impl Limits {
    /// Limits counting over `window` (a minute, shorter in tests), with these
    /// daily budgets by project.
    pub fn new(
        store: Arc<dyn AccessStore>,
        coordinator: Arc<dyn Coordinator>,
        window: Duration,
        budgets: HashMap<String, u64>,
    ) -> Self {
        Self {
            window: window.max(Duration::from_millis(1)),
            coordinator,
            budgets: Arc::new(budgets),
            store,
            pending: Arc::default(),
        }
    }

    /// A project's daily budget, if it has one.
    pub fn budget(&self, project: &str) -> Option<u64> {
        self.budgets.get(project).copied()
    }

    /// The tokens a project used today (written or still pending).
    pub async fn used_today(&self, project: &str) -> StoreResult<u64> {
        let day = today();
        let stored = self.store.tokens_used(project, day).await?;
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .tokens
            .get(&(project.to_owned(), day))
            .copied()
            .unwrap_or(0);
        Ok(stored + pending)
    }

    /// Refuses a project that has spent its daily budget.
    pub async fn check_budget(&self, project: &str) -> Result<(), Response> {
        let Some(budget) = self.budget(project) else {
            return Ok(());
        };
        let used = self
            .used_today(project)
            .await
            .map_err(|error| ApiError::from(error).into_response())?;
        if used < budget {
            return Ok(());
        }
        let error = ApiError::Refused {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: ErrorBody {
                message: format!(
                    "You exceeded your current quota: project '{project}' has used {used} of its daily budget of {budget} tokens. The budget renews at 00:00 UTC."
                ),
                r#type: "insufficient_quota".to_owned(),
                param: None,
                code: Some("insufficient_quota".to_owned()),
            },
        };
        let mut response = error.into_response();
        response
            .headers_mut()
            .insert("x-should-retry", HeaderValue::from_static("false"));
        Err(response)
    }

    /// Counts one request of `key_id` (named `who` in messages) against its
    /// limits: the `x-ratelimit-*` headers to send with the answer, or the 429.
    pub async fn admit(
        &self,
        key_id: &str,
        who: &str,
        limits: RateLimits,
    ) -> Result<HeaderMap, Box<Response>> {
        let mut headers = HeaderMap::new();
        if !limits.any() {
            return Ok(headers);
        }
        let reading = self
            .coordinator
            .admit(
                key_id,
                RateCheck {
                    requests_per_window: limits.requests_per_minute,
                    tokens_per_window: limits.tokens_per_minute,
                    window: self.window,
                },
            )
            .await;
        for (kind, window) in [("requests", reading.requests), ("tokens", reading.tokens)] {
            if let Some(window) = window {
                put_headers(&mut headers, kind, window.limit, window.used, window.reset);
            }
        }
        let refusal = match (reading.refused, reading.requests, reading.tokens) {
            (Some(RateKind::Requests), Some(window), _) => (
                "requests",
                format!("Rate limit reached for {who} on requests per min (RPM): Limit {}, Used {}, Requested 1. Please try again in {}.", window.limit, window.used, human_duration(window.wait)),
                window.wait,
            ),
            (Some(RateKind::Tokens), _, Some(window)) => (
                "tokens",
                format!("Rate limit reached for {who} on tokens per min (TPM): Limit {}, Used {}. Please try again in {}.", window.limit, window.used, human_duration(window.wait)),
                window.wait,
            ),
            _ => return Ok(headers),
        };
        let (kind, message, wait) = refusal;
        Err(Box::new(rate_limited(kind, message, wait, headers)))
    }

    /// Counts the tokens of a finished response or completion: against its
    /// key's token limit (when it has one) and its project's day.
    pub async fn record(&self, project: &str, key_id: Option<&str>, tokens: u64) {
        if tokens == 0 {
            return;
        }
        if let Some(key_id) = key_id {
            self.coordinator
                .count_tokens(key_id, self.window, tokens)
                .await;
        }
        if self.budget(project).is_none() {
            self.add_pending(project, tokens);
            return;
        }
        if let Err(error) = self.store.add_tokens(project, today(), tokens).await {
            tracing::error!(%error, project, "could not count a project's tokens");
        }
    }

    /// Adds to the pending tokens and schedules their write if none is.
    fn add_pending(&self, project: &str, tokens: u64) {
        let schedule = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            *pending
                .tokens
                .entry((project.to_owned(), today()))
                .or_default() += tokens;
            !std::mem::replace(&mut pending.scheduled, true)
        };
        if schedule {
            let limits = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(USAGE_FLUSH).await;
                limits.write_pending().await;
            });
        }
    }

    /// Writes the pending tokens (one write per project and day).
    async fn write_pending(&self) {
        let batch: Vec<((String, i64), u64)> = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending.scheduled = false;
            pending.tokens.drain().collect()
        };
        for ((project, day), tokens) in batch {
            if let Err(error) = self.store.add_tokens(&project, day, tokens).await {
                tracing::error!(%error, project, "could not count a project's tokens");
            }
        }
    }
}

fn put_headers(headers: &mut HeaderMap, kind: &str, limit: u64, used: u64, reset: Duration) {
    let values = [
        ("limit", limit.to_string()),
        ("remaining", limit.saturating_sub(used).to_string()),
        ("reset", human_duration(reset)),
    ];
    for (name, value) in values {
        let name = HeaderName::try_from(format!("x-ratelimit-{name}-{kind}"));
        if let (Ok(name), Ok(value)) = (name, HeaderValue::try_from(value)) {
            headers.insert(name, value);
        }
    }
}

/// OpenAI's 429 for a rate limit, with `Retry-After` and the limit headers.
fn rate_limited(kind: &str, message: String, wait: Duration, headers: HeaderMap) -> Response {
    let error = ApiError::Refused {
        status: StatusCode::TOO_MANY_REQUESTS,
        error: ErrorBody {
            message,
            r#type: kind.to_owned(),
            param: None,
            code: Some("rate_limit_exceeded".to_owned()),
        },
    };
    let mut response = error.into_response();
    let millis = wait.as_millis().max(1);
    let seconds = millis.div_ceil(1000);
    let answer = response.headers_mut();
    answer.extend(headers);
    if let Ok(value) = HeaderValue::try_from(seconds.to_string()) {
        answer.insert("retry-after", value);
    }
    if let Ok(value) = HeaderValue::try_from(millis.to_string()) {
        answer.insert("retry-after-ms", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn limits(window: Duration) -> Limits {
        let directory = tempfile::tempdir().unwrap();
        let store = crate::store::factory::open(&directory.path().join("limits.db"))
            .await
            .unwrap();
        // The file stays open after its directory goes (unlinked, on Unix).
        let coordinator = crate::coordination::in_process::InProcess::new(
            "replica_test".into(),
            crate::inflight::Inflight::default(),
        );
        Limits::new(store.access, Arc::new(coordinator), window, HashMap::new())
    }

    #[tokio::test]
    async fn the_request_after_the_limit_is_refused_with_its_wait() {
        let limits = limits(Duration::from_secs(60)).await;
        let rpm = RateLimits {
            requests_per_minute: Some(2),
            tokens_per_minute: None,
        };
        let first = limits.admit("k", "key k", rpm).await.unwrap();
        assert_eq!(first["x-ratelimit-remaining-requests"], "1");
        assert_eq!(first["x-ratelimit-limit-requests"], "2");
        limits.admit("k", "key k", rpm).await.unwrap();
        let refused = limits.admit("k", "key k", rpm).await.unwrap_err();
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.headers()["retry-after"], "60");
        assert_eq!(refused.headers()["x-ratelimit-remaining-requests"], "0");
        assert!(limits.admit("other", "key other", rpm).await.is_ok());
    }
}
