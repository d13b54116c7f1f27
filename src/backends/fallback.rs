//! A model's ordered backend candidates, as one backend. A call goes to the
//! first candidate whose circuit allows it; a failure before the first event
//! (unreachable, timeout, a server failure, a stream broken before anything came) is retried
//! with backoff and then falls back to the next candidate. Once the first event
//! has been read the answer belongs to that backend: nothing is retried after a
//! byte could have reached the client. The client's mistakes (an unknown
//! model, a prompt over the context, a refused parameter: see `fault`) are
//! answered as they are, without fallback, and do not count against the
//! backend's health.
//! Chat Completions and Embeddings bodies forwarded unchanged to HTTP backends
//! follow the same rules (`forward`). Each call notes which candidates failed
//! and which one answered ([`Attempts`]), for metrics by backend.

mod forward;

pub use forward::{BodyLimits, Forwarded, PassthroughPath};

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};

use super::health::{CircuitBreaker, CircuitState};
use crate::backends::backend::{Attempts, Backend, ChatEventStream};
use crate::backends::error::BackendError;
use crate::wire::chat_events::ChatRequest;

/// Timeouts and retries of calls to backends.
#[derive(Debug, Clone, Copy)]
pub struct CallPolicy {
    /// Longest wait for the first event (time to first token).
    pub first_event_timeout: Duration,
    /// Longest a whole answer may stream.
    pub total_timeout: Duration,
    /// Extra attempts on one candidate before the next one.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
}

impl CallPolicy {
    /// How long a call's first event (or answer headers) may take: a whole
    /// answer (a request not streamed) has nothing to show before it is done,
    /// so it gets the total time; a stream, the time to first token.
    pub fn first_event_limit(&self, whole_answer: bool) -> Duration {
        if whole_answer {
            self.total_timeout
        } else {
            self.first_event_timeout
        }
    }
}

impl Default for CallPolicy {
    fn default() -> Self {
        Self {
            first_event_timeout: Duration::from_secs(120),
            total_timeout: Duration::from_secs(1800),
            retries: 0,
            backoff: Duration::from_millis(50),
        }
    }
}

/// One candidate: a backend, its breaker, and the model name it is asked for.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub backend: Arc<dyn Backend>,
    pub breaker: Arc<CircuitBreaker>,
    /// The model name sent upstream (a route may rename it).
    pub upstream_model: Option<String>,
}

/// Ordered candidates behind one model name, resolved for one request.
#[derive(Debug)]
pub struct FallbackBackend {
    name: String,
    candidates: Vec<Candidate>,
    policy: CallPolicy,
    attempts: Mutex<Attempts>,
}

impl FallbackBackend {
    /// Candidates in order of preference (at least one).
    pub fn new(candidates: Vec<Candidate>, policy: CallPolicy) -> Self {
        let name = candidates
            .iter()
            .map(|candidate| candidate.backend.name())
            .collect::<Vec<_>>()
            .join(",");
        Self {
            name,
            candidates,
            policy,
            attempts: Mutex::default(),
        }
    }

    fn attempts(&self) -> std::sync::MutexGuard<'_, Attempts> {
        self.attempts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes that `candidate` is being tried; the one tried before it failed.
    fn trying(&self, candidate: &Candidate, previous_error: Option<&BackendError>) {
        let mut attempts = self.attempts();
        if let (Some(previous), Some(error)) = (attempts.last.take(), previous_error) {
            attempts.fallen_back.push((previous, error.clone()));
        }
        attempts.last = Some(candidate.backend.name().to_owned());
    }

    /// The candidates whose circuit is not open, in order; when every circuit
    /// is open, all of them (better to try than to refuse outright). Whether a
    /// half-open candidate gets the trial is decided when it is tried
    /// ([`may_try`](Self::may_try)).
    pub fn available(&self) -> Vec<&Candidate> {
        let passable: Vec<&Candidate> = self
            .candidates
            .iter()
            .filter(|candidate| candidate.breaker.state() != CircuitState::Open)
            .collect();
        if passable.is_empty() {
            self.candidates.iter().collect()
        } else {
            passable
        }
    }

    /// Whether `candidate` may be called now: its breaker lets the call through
    /// (a half-open one only for its one trial), or every circuit is open.
    fn may_try(&self, candidate: &Candidate) -> bool {
        candidate.breaker.allow()
            || self
                .candidates
                .iter()
                .all(|candidate| candidate.breaker.state() == CircuitState::Open)
    }

    async fn try_candidate(
        &self,
        candidate: &Candidate,
        request: ChatRequest,
    ) -> Result<ChatEventStream, BackendError> {
        let first_event_timeout = self.policy.first_event_limit(request.whole_answer);
        let opened = tokio::time::timeout(first_event_timeout, async {
            let mut stream = candidate.backend.stream_chat(request).await?;
            match stream.next().await {
                Some(Err(error)) => Err(error),
                first => Ok((first, stream)),
            }
        })
        .await
        .map_err(|_| {
            BackendError::Timeout(format!("no first token within {first_event_timeout:?}"))
        })?;
        let (first, rest) = opened?;
        let deadline = tokio::time::Instant::now() + self.policy.total_timeout;
        let stream = async_stream::stream! {
            if let Some(first) = first {
                yield first;
            }
            let mut rest = rest;
            loop {
                match tokio::time::timeout_at(deadline, rest.next()).await {
                    Ok(Some(item)) => yield item,
                    Ok(None) => break,
                    Err(_) => {
                        yield Err(BackendError::Timeout("the answer took longer than the total timeout".into()));
                        break;
                    }
                }
            }
        };
        Ok(Box::pin(stream))
    }
}

/// Whether a failure says something about the backend's health (and may be retried).
pub fn is_backend_failure(error: &BackendError) -> bool {
    !error.is_client_mistake()
}

impl Backend for FallbackBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn stream_chat(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'_, Result<ChatEventStream, BackendError>> {
        async move {
            let mut last_error = BackendError::Unreachable("no backend candidate".into());
            let mut failed_before = false;
            for candidate in self.available() {
                if !self.may_try(candidate) {
                    continue;
                }
                let mut attempt_request = request.clone();
                if let Some(model) = &candidate.upstream_model {
                    attempt_request.model = model.clone();
                }
                for attempt in 0..=self.policy.retries {
                    self.trying(candidate, failed_before.then_some(&last_error));
                    match self.try_candidate(candidate, attempt_request.clone()).await {
                        Ok(stream) => {
                            candidate.breaker.record_success();
                            return Ok(stream);
                        }
                        Err(error) if is_backend_failure(&error) => {
                            tracing::warn!(backend = candidate.backend.name(), attempt, %error, "backend attempt failed");
                            candidate.breaker.record_failure();
                            last_error = error;
                            failed_before = true;
                            if attempt < self.policy.retries {
                                tokio::time::sleep(self.policy.backoff * 2u32.pow(attempt)).await;
                            }
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
            Err(last_error)
        }
        .boxed()
    }

    fn list_models(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        async move {
            let mut last_error = BackendError::Unreachable("no backend candidate".into());
            for candidate in &self.candidates {
                match candidate.backend.list_models().await {
                    Ok(models) => return Ok(models),
                    Err(error) => last_error = error,
                }
            }
            Err(last_error)
        }
        .boxed()
    }

    fn take_attempts(&self) -> Attempts {
        std::mem::take(&mut *self.attempts())
    }

    fn count_tokens(&self, text: &str) -> BoxFuture<'_, Option<u64>> {
        let text = text.to_owned();
        async move {
            match self.available().first() {
                Some(candidate) => candidate.backend.count_tokens(&text).await,
                None => None,
            }
        }
        .boxed()
    }
}
