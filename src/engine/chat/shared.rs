//! A deterministic Chat Completions request (temperature 0 or a `seed`) for
//! HTTP backends goes through the generation cache: identical requests in
//! flight share one forwarded call, and with the cache on a finished answer
//! is replayed. What is shared is the backend's raw answer; each client's
//! relay normalizes it with its own id (and stores it under its own id when
//! asked to).

use std::sync::Arc;

use futures::StreamExt;
use serde_json::Value;

use crate::backends::error::BackendError;
use crate::backends::fallback::{BodyLimits, FallbackBackend, Forwarded, PassthroughPath};
use crate::cache::{CacheOutcome, SharedStream, UpstreamPiece};
use crate::engine::chat::relay::UpstreamAnswer;
use crate::engine::state::AppState;
use crate::metrics::backend_call::BackendCall;

/// The answer to `sent` for `model`, from the cache, another request's call,
/// or a call of this one (`call` counts only the last).
pub async fn forwarded_through_cache(
    state: &AppState,
    candidates: Arc<FallbackBackend>,
    model: &str,
    sent: Value,
    call: &BackendCall,
) -> Result<(UpstreamAnswer, CacheOutcome), BackendError> {
    let key_body =
        serde_json::to_vec(&sent).map_err(|error| BackendError::Stream(error.to_string()))?;
    let leader = candidates.clone();
    let open = Box::pin(async move {
        match leader
            .forward(PassthroughPath::ChatCompletions, &sent)
            .await?
        {
            Forwarded::Answer { answer, limits, .. } => Ok(pieces(answer, limits)),
            Forwarded::NotForwardable { failure, .. } => Err(failure.unwrap_or_else(|| {
                BackendError::Unreachable("no backend can take the request".to_owned())
            })),
        }
    });
    let names = crate::backends::backend::Backend::name(&*candidates).to_owned();
    let opened = state
        .cache
        .forwarded_answer(model, &names, &key_body, open)
        .await;
    call.attempted(&*candidates);
    let (mut pieces, outcome) = opened?;
    state.metrics.record_cache(outcome);
    if matches!(outcome, CacheOutcome::Hit | CacheOutcome::Shared) {
        call.not_sent();
    }
    let event_stream = match pieces.next().await {
        Some(Ok(UpstreamPiece::Head { event_stream })) => event_stream,
        Some(Err(error)) => return Err(error),
        _ => {
            return Err(BackendError::Stream(
                "the shared answer has no head".to_owned(),
            ))
        }
    };
    let body = pieces.filter_map(|piece| async move {
        match piece {
            Ok(UpstreamPiece::Body(bytes)) => Some(Ok(bytes)),
            Ok(UpstreamPiece::Head { .. }) => None,
            Err(BackendError::Stream(detail)) => Some(Err(detail)),
            Err(error) => Some(Err(error.to_string())),
        }
    });
    Ok((
        UpstreamAnswer {
            event_stream,
            body: Box::pin(body),
        },
        outcome,
    ))
}

/// A forwarded answer as pieces: its head, then its body as it comes.
fn pieces(answer: reqwest::Response, limits: BodyLimits) -> SharedStream<UpstreamPiece> {
    let answer = UpstreamAnswer::from_response(answer, limits);
    let head = UpstreamPiece::Head {
        event_stream: answer.event_stream,
    };
    let body = answer
        .body
        .map(|piece| piece.map(UpstreamPiece::Body).map_err(BackendError::Stream));
    Box::pin(futures::stream::iter([Ok(head)]).chain(body))
}
