//! Chat Completions: `POST /v1/chat/completions`. For HTTP backends that speak
//! Chat Completions the body is forwarded unchanged and the answer relayed as it
//! comes, brought to OpenAI's exact shape on the way (`engine::chat::relay`, `stream::chat::normalize`);
//! upstream errors are wrapped in OpenAI's envelope (the engine's
//! `backend_error`, which relays a backend's client errors with their `param`
//! and `code`). For in-process backends the answer is synthesized from their
//! chat events by `stream::chat::synthesize`, which goes through the same normalization, so
//! both kinds of backend look the same.
//!
//! A request that uses the legacy `functions` is sent in the tools form and
//! answered in the legacy form (`wire::chat::legacy_functions`). With `store: true` the
//! completion is kept (`engine::chat::stored`) and can be listed, retrieved, re-labelled,
//! deleted and its messages listed (`stored_handlers`).

pub mod stored_handlers;

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures::StreamExt;
use serde_json::Value;

use crate::access::project::Project;
use crate::backends::backend::Backend;
use crate::backends::fallback::{Forwarded, PassthroughPath};
use crate::cache::CacheOutcome;
use crate::engine::chat::pipeline::ChunkPipeline;
use crate::engine::chat::relay::{sse_response, ClientAsked};
use crate::engine::chat::stored::Recorder;
use crate::engine::failures::stream_error_chunk;
use crate::engine::state::AppState;
use crate::engine::{backend_error, Endpoint, FailedCall};
use crate::http::extract::JsonBody;
use crate::stream::chat::normalize::ChunkNormalizer;
use crate::stream::chat::sse_lines::SseEvent;
use crate::stream::sse::DONE_FRAME;
use crate::wire::error::{ApiError, ApiResult, ErrorEnvelope};

/// The Chat Completions routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/chat/completions",
            get(stored_handlers::list_chat_completions).post(create_chat_completion),
        )
        .route(
            "/v1/chat/completions/{completion_id}",
            get(stored_handlers::get_chat_completion)
                .post(stored_handlers::update_chat_completion)
                .delete(stored_handlers::delete_chat_completion),
        )
        .route(
            "/v1/chat/completions/{completion_id}/messages",
            get(stored_handlers::list_chat_completion_messages),
        )
}

/// Creates a chat completion (JSON, or `chat.completion.chunk` SSE ending in `[DONE]`).
#[utoipa::path(
    post, path = "/v1/chat/completions", tag = "Chat",
    request_body(content = Object, description = "OpenAI's CreateChatCompletionRequest"),
    responses(
        (status = 200, description = "A chat.completion, or chat.completion.chunk events when `stream` is true (stored when `store` is true)", body = Object),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong API key", body = ErrorEnvelope),
        (status = 404, description = "Unknown model", body = ErrorEnvelope),
        (status = 502, description = "The backend failed", body = ErrorEnvelope),
        (status = 503, description = "The backend is unreachable", body = ErrorEnvelope),
    )
)]
pub async fn create_chat_completion(
    State(state): State<AppState>,
    project: Project,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let model = required_model(&body)?;
    crate::wire::chat::validate::validate_chat_request(&body)?;
    let candidates = state
        .backends
        .resolve_candidates(&model)
        .ok_or_else(|| ApiError::model_not_found(&model))?;
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = stream
        && body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let obfuscate = stream
        && body
            .pointer("/stream_options/include_obfuscation")
            .and_then(Value::as_bool)
            .unwrap_or(true);
    let recorder = Recorder::for_request(&state.store.chat_completions, &project.0, &body, &model)?;
    let legacy = crate::wire::chat::legacy_functions::uses_legacy_functions(&body);
    let sent = if legacy {
        crate::wire::chat::legacy_functions::to_tools_request(&body)
    } else {
        body
    };
    let call = state.metrics.backend_call(&model, candidates.name());
    let candidates = Arc::new(candidates);
    // Counted only for a usage chunk the backend may not send.
    let counted_prompt: crate::engine::chat::relay::PromptTokens = if include_usage {
        crate::engine::chat::prompt_tokens::counted_by(candidates.clone(), &sent)
    } else {
        Box::pin(async { 0 })
    };
    if candidates.all_forwardable() && state.cache.applies_to_chat(&model, &sent) {
        let (answer, outcome) = crate::engine::chat::shared::forwarded_through_cache(
            &state,
            candidates.clone(),
            &model,
            sent,
            &call,
        )
        .await
        .map_err(|error| backend_error(chat_call(&model, candidates.name()), call.failed(error)))?;
        let asked = ClientAsked {
            backend: candidates.name(),
            model: &model,
            stream,
            include_usage,
            obfuscate,
            legacy_functions: legacy,
            fresh_id: outcome != CacheOutcome::Miss,
        };
        let mut answer =
            crate::engine::chat::relay::relay(answer, asked, recorder, call, counted_prompt)
                .await?;
        outcome.mark(&mut answer);
        return Ok(answer);
    }
    let forwarded = candidates
        .forward(PassthroughPath::ChatCompletions, &sent)
        .await;
    call.attempted(&*candidates);
    let backend: Arc<dyn Backend> = match forwarded {
        Ok(Forwarded::Answer {
            answer,
            backend,
            limits,
        }) => {
            let asked = ClientAsked {
                backend: &backend,
                model: &model,
                stream,
                include_usage,
                obfuscate,
                legacy_functions: legacy,
                fresh_id: false,
            };
            let answer = crate::engine::chat::relay::UpstreamAnswer::from_response(answer, limits);
            return crate::engine::chat::relay::relay(
                answer,
                asked,
                recorder,
                call,
                counted_prompt,
            )
            .await;
        }
        Err(error) => {
            return Err(backend_error(
                chat_call(&model, candidates.name()),
                call.failed(error),
            ))
        }
        Ok(Forwarded::NotForwardable { rest, failure }) => {
            if let Some(failure) = failure {
                // The failed pass-through attempts are counted; what follows is a new call.
                let _ = call.failed(failure);
            } else {
                call.not_sent();
            }
            Arc::new(rest)
        }
    };
    // An in-process backend generates one choice a request.
    if let Some(choices) = sent.get("n").and_then(Value::as_u64).filter(|n| *n > 1) {
        return Err(ApiError::invalid_with_code(
            format!("'n' = {choices} is not supported by the backend '{}': it generates one choice per request. Send n = 1, or leave it out.", backend.name()),
            Some("n".to_owned()),
            "unsupported_value",
        ));
    }
    let request = crate::stream::chat::synthesize::chat_request_from_body(&sent)
        .map_err(|message| ApiError::invalid(message, None))?;
    let call = state.metrics.backend_call(&model, backend.name());
    let events = backend.stream_chat(request).await;
    call.attempted(&*backend);
    let events = events
        .map_err(|error| backend_error(chat_call(&model, backend.name()), call.failed(error)))?;
    let events = call.observe(events);
    if stream {
        let encoder = crate::stream::chat::synthesize::ChunkEncoder::new(&model, include_usage);
        let mut normalizer =
            ChunkNormalizer::new(&model, include_usage).with_obfuscation(obfuscate);
        if let Some(recorder) = &recorder {
            normalizer = normalizer.with_id(recorder.id());
        }
        let pipeline = ChunkPipeline::new(normalizer, recorder).with_legacy_functions(legacy);
        Ok(synthesized_stream(
            encoder,
            pipeline,
            events,
            (model.clone(), backend.name().to_owned()),
        ))
    } else {
        let collected: Vec<_> = events.collect().await;
        let mut chat_events = Vec::with_capacity(collected.len());
        for event in collected {
            chat_events.push(
                event.map_err(|error| backend_error(chat_call(&model, backend.name()), error))?,
            );
        }
        let mut completion =
            crate::stream::chat::synthesize::collect_completion(&model, &chat_events);
        if legacy {
            crate::wire::chat::legacy_functions::completion_to_legacy(&mut completion);
        }
        if let Some(recorder) = &recorder {
            recorder.save(&mut completion).await?;
        }
        Ok(crate::access::meter::metered_json(completion))
    }
}

/// A Chat Completions call of `model` to `backend`, for its failures.
fn chat_call<'a>(model: &'a str, backend: &'a str) -> FailedCall<'a> {
    FailedCall::new(Endpoint::ChatCompletions, model, backend)
}

/// The request's `model`: a string, or OpenAI's 400 naming `model`. Shared by
/// every route that picks a backend by model.
pub fn required_model(body: &Value) -> ApiResult<String> {
    match body.get("model") {
        Some(Value::String(model)) => Ok(model.clone()),
        None | Some(Value::Null) => Err(ApiError::invalid_with_code(
            "Missing required parameter: 'model'.",
            Some("model".to_owned()),
            "missing_required_parameter",
        )),
        Some(_) => Err(ApiError::invalid_with_code(
            "Invalid type for 'model': expected a string.",
            Some("model".to_owned()),
            "invalid_type",
        )),
    }
}

/// SSE of chunks synthesized from a backend's chat events, through the same
/// pipeline as relayed chunks (the encoder's chunks are normalized once more,
/// which changes nothing but adds the padding and holds the role chunk). A
/// failure after the stream has started is sent as OpenAI's mid-stream error
/// chunk.
fn synthesized_stream(
    mut encoder: crate::stream::chat::synthesize::ChunkEncoder,
    mut pipeline: ChunkPipeline,
    mut events: crate::backends::backend::ChatEventStream,
    (model, backend): (String, String),
) -> Response {
    let tokens = pipeline.tokens();
    let body = async_stream::stream! {
        for frame in pipeline.chunk(SseEvent::default(), encoder.first_chunk()) {
            yield Ok::<_, Infallible>(frame);
        }
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => {
                    for chunk in encoder.encode(&event) {
                        for frame in pipeline.chunk(SseEvent::default(), chunk) {
                            yield Ok(frame);
                        }
                    }
                }
                Err(error) => {
                    pipeline.fail();
                    for frame in pipeline.flush() {
                        yield Ok(frame);
                    }
                    let chunk = stream_error_chunk(chat_call(&model, &backend), error);
                    yield Ok(crate::stream::sse::data_frame(&chunk));
                    return;
                }
            }
        }
        if let Some(chunk) = encoder.usage_chunk() {
            for frame in pipeline.chunk(SseEvent::default(), chunk) {
                yield Ok(frame);
            }
        }
        for frame in pipeline.flush() {
            yield Ok(frame);
        }
        pipeline.finish().await;
        yield Ok(bytes::Bytes::from_static(DONE_FRAME.as_bytes()));
    };
    let mut response = sse_response(body);
    response.extensions_mut().insert(tokens);
    response
}
