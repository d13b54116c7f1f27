//! Forwarding a Chat Completions or Embeddings body unchanged to a model's
//! HTTP candidates, with the fallback rules of the parent module: a candidate
//! that cannot be reached, times out before its answer's headers (the time to
//! first token for a stream, the total time for a whole answer), or fails on
//! its side (see `fault`) is retried and then passed over; the client's
//! mistake is the answer. A route's upstream rename is written into the body's `model`. When
//! the next candidate cannot take a forwarded body (it is not an HTTP Chat
//! Completions server), the remaining candidates are handed back to be served
//! through `stream_chat` instead.

use serde_json::Value;

use super::{is_backend_failure, Candidate, FallbackBackend};
use crate::backends::error::BackendError;
use crate::backends::openai_compat::status_error;

/// How long a forwarded answer's body may take: its first piece (the time to
/// first token, when the headers came first) and the whole of it (from the
/// call's start, the total timeout).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub first_piece: std::time::Duration,
    pub deadline: tokio::time::Instant,
}

/// Where a forwarded body goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassthroughPath {
    ChatCompletions,
    Embeddings,
}

/// What forwarding came to.
#[derive(Debug)]
pub enum Forwarded {
    /// A candidate answered 2xx: its answer, not yet read, its name, and
    /// the time limits on reading its body.
    Answer {
        answer: reqwest::Response,
        backend: String,
        limits: BodyLimits,
    },
    /// The next candidate is not an HTTP pass-through backend: these
    /// candidates (it and those after it) are left, with the last
    /// pass-through failure if there was one.
    NotForwardable {
        rest: FallbackBackend,
        failure: Option<BackendError>,
    },
}

impl FallbackBackend {
    /// Whether every candidate can take a forwarded body.
    pub fn all_forwardable(&self) -> bool {
        self.candidates
            .iter()
            .all(|candidate| candidate.backend.chat_passthrough().is_some())
    }

    /// Sends `body` to the first candidate that answers (see the module doc).
    /// `Err` is a client error to relay, or the last failure when every
    /// candidate failed.
    pub async fn forward(
        &self,
        path: PassthroughPath,
        body: &Value,
    ) -> Result<Forwarded, BackendError> {
        let available: Vec<&Candidate> = self.available();
        let mut last_error: Option<BackendError> = None;
        let deadline = tokio::time::Instant::now() + self.policy.total_timeout;
        // A body not streamed answers its headers with the whole answer.
        let streamed = path == PassthroughPath::ChatCompletions
            && body.get("stream").and_then(Value::as_bool) == Some(true);
        let first_event_timeout = self.policy.first_event_limit(!streamed);
        for (position, candidate) in available.iter().enumerate() {
            let Some(upstream) = candidate.backend.chat_passthrough() else {
                let rest = available[position..]
                    .iter()
                    .map(|candidate| (*candidate).clone())
                    .collect();
                return Ok(Forwarded::NotForwardable {
                    rest: FallbackBackend::new(rest, self.policy),
                    failure: last_error,
                });
            };
            if !self.may_try(candidate) {
                continue;
            }
            let sent = match &candidate.upstream_model {
                Some(model) => std::borrow::Cow::Owned(renamed(body, model)),
                None => std::borrow::Cow::Borrowed(body),
            };
            for attempt in 0..=self.policy.retries {
                self.trying(candidate, last_error.as_ref());
                let answer = tokio::time::timeout(first_event_timeout, async {
                    let answer = match path {
                        PassthroughPath::ChatCompletions => upstream.forward_chat(&sent).await?,
                        PassthroughPath::Embeddings => {
                            upstream.forward_embeddings(serialized(&sent)?).await?
                        }
                    };
                    if answer.status().is_success() {
                        Ok(answer)
                    } else {
                        Err(status_error(answer).await.located_in(&sent))
                    }
                })
                .await
                .unwrap_or_else(|_| {
                    Err(BackendError::Timeout(format!(
                        "no answer within {first_event_timeout:?}"
                    )))
                });
                match answer {
                    Ok(answer) => {
                        candidate.breaker.record_success();
                        return Ok(Forwarded::Answer {
                            answer,
                            backend: candidate.backend.name().to_owned(),
                            limits: BodyLimits {
                                first_piece: first_event_timeout,
                                deadline,
                            },
                        });
                    }
                    Err(error) if is_backend_failure(&error) => {
                        tracing::warn!(backend = candidate.backend.name(), attempt, %error, "backend attempt failed");
                        candidate.breaker.record_failure();
                        last_error = Some(error);
                        if attempt < self.policy.retries {
                            tokio::time::sleep(self.policy.backoff * 2u32.pow(attempt)).await;
                        }
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        Err(last_error.unwrap_or_else(|| BackendError::Unreachable("no backend candidate".into())))
    }
}

/// `body` with its `model` replaced.
fn renamed(body: &Value, model: &str) -> Value {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        object.insert("model".to_owned(), Value::String(model.to_owned()));
    }
    body
}

fn serialized(body: &Value) -> Result<bytes::Bytes, BackendError> {
    serde_json::to_vec(body)
        .map(bytes::Bytes::from)
        .map_err(|error| BackendError::Stream(error.to_string()))
}
