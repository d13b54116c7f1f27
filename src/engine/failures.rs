//! A backend's failure as the client sees it: the classified [`Fault`] (see
//! `backends::fault`) rendered as OpenAI's status, `type`, `code`, `param` and
//! message for the endpoint that was called — an HTTP error, a Chat
//! Completions stream's error chunk, a response's `error` (in
//! `response.failed`), or a run's `last_error`.
//!
//! | fault | Chat Completions | Responses | Embeddings |
//! |---|---|---|---|
//! | unknown model | 404 `model_not_found` | 400 `model_not_found`, `param: model` | 404 `model_not_found` |
//! | context too long | 400 `context_length_exceeded`, `param: messages` | 400 `context_length_exceeded`, `param: input` | 400 `context_length_exceeded`, `param: input` |
//! | cannot embed | — | — | 400, `param: model` |
//! | unsupported feature | 400 `unsupported_parameter`, its `param` | the same, the parameter's Responses name | the same |
//! | other refused request | the backend's 4xx (422 → 400), `param` and `code` when sent | the same | the same |
//! | rate limited | 429 `rate_limit_exceeded` | the same | the same |
//! | busy, loading | 503 `backend_unavailable` | the same | the same |
//! | refused Portico's key, server failure, broken stream | 502 `backend_error` | the same | the same |
//! | unreachable, timed out | 503 `backend_unavailable`, 504 `backend_timeout` | the same | the same |
//!
//! Messages are OpenAI's where OpenAI has one (recorded: "This model's maximum
//! context length is …", "Your input exceeds the context window of this
//! model…", "The requested model '…' does not exist."); otherwise they name
//! the backend and add its own words only when [`safe_detail`] let them through.
//!
//! [`Fault`]: crate::backends::fault::Fault
//! [`safe_detail`]: crate::backends::fault::safe_detail

use axum::http::StatusCode;

use crate::backends::error::BackendError;
use crate::backends::fault::Fault;
use crate::wire::error::{ApiError, ErrorBody};
use crate::wire::responses::object::{ResponseError, ResponseObject, ResponseStatus};

/// The API whose request a backend failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Responses,
    Embeddings,
}

/// Which call failed: the endpoint, the model asked for and the backend (or
/// candidates) that answered.
#[derive(Debug, Clone, Copy)]
pub struct FailedCall<'a> {
    pub endpoint: Endpoint,
    pub model: &'a str,
    pub backend: &'a str,
}

impl<'a> FailedCall<'a> {
    /// A failure of `backend` answering `model` on `endpoint`.
    pub fn new(endpoint: Endpoint, model: &'a str, backend: &'a str) -> Self {
        Self {
            endpoint,
            model,
            backend,
        }
    }
}

/// The client's error for a backend failure before anything reached it.
pub fn backend_error(call: FailedCall<'_>, error: BackendError) -> ApiError {
    let backend = call.backend;
    tracing::warn!(backend, %error, "backend failed before the first token");
    match error {
        // The connection error names the backend's address: logged above, not sent.
        BackendError::Unreachable(_) => ApiError::Backend {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("The backend '{backend}' is unavailable; try again shortly."),
        },
        BackendError::Timeout(detail) => ApiError::Backend {
            status: StatusCode::GATEWAY_TIMEOUT,
            message: format!("The backend '{backend}' did not answer in time: {detail}"),
        },
        BackendError::Stream(detail) => ApiError::Backend {
            status: StatusCode::BAD_GATEWAY,
            message: format!("The backend '{backend}' failed: {detail}"),
        },
        BackendError::Status { status, fault, .. } => fault_error(call, status, fault),
    }
}

/// The `{"error": …}` a Chat Completions stream ends with when its backend
/// fails after the stream started (OpenAI's mid-stream error chunk), in the
/// same words as [`backend_error`].
pub fn stream_error_chunk(call: FailedCall<'_>, error: BackendError) -> serde_json::Value {
    serde_json::to_value(backend_error(call, error).body()).unwrap_or_default()
}

fn fault_error(call: FailedCall<'_>, status: u16, fault: Fault) -> ApiError {
    let (backend, model) = (call.backend, call.model);
    let endpoint = call.endpoint;
    match fault {
        Fault::UnknownModel if endpoint == Endpoint::Responses => {
            ApiError::responses_model_not_found(model)
        }
        Fault::UnknownModel => ApiError::model_not_found(model),
        Fault::ContextTooLong {
            context_tokens,
            prompt_tokens,
        } => ApiError::invalid_with_code(
            context_message(endpoint, model, context_tokens, prompt_tokens),
            Some(param_for(endpoint, "messages")),
            "context_length_exceeded",
        ),
        Fault::CannotEmbed => ApiError::invalid(
            format!("The model `{model}` is served by the backend '{backend}', which cannot create embeddings with it."),
            Some("model".to_owned()),
        ),
        Fault::Unsupported { param, detail } => {
            let param = param.map(|param| param_for(endpoint, &param));
            let what = match &param {
                Some(param) => format!("'{param}' is not supported by the backend '{backend}' serving `{model}`"),
                None => format!("The backend '{backend}' serving `{model}` cannot do what this request asks"),
            };
            ApiError::invalid_with_code(
                with_detail(what, detail),
                param,
                "unsupported_parameter",
            )
        }
        Fault::Invalid {
            status,
            param,
            code,
            detail,
        } => ApiError::Relayed {
            status: StatusCode::from_u16(status)
                .ok()
                .filter(StatusCode::is_client_error)
                .unwrap_or(StatusCode::BAD_REQUEST),
            error: ErrorBody {
                message: detail.unwrap_or_else(|| {
                    format!("The backend '{backend}' refused the request ({status}).")
                }),
                r#type: "invalid_request_error".to_owned(),
                param: param.map(|param| param_for(endpoint, &param)),
                code,
            },
        },
        Fault::RateLimited { detail } => ApiError::Relayed {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: ErrorBody {
                message: with_detail(
                    format!("The backend '{backend}' is rate limited; try again shortly"),
                    detail,
                ),
                r#type: "requests".to_owned(),
                param: None,
                code: Some("rate_limit_exceeded".to_owned()),
            },
        },
        Fault::Overloaded { detail } => ApiError::Backend {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: with_detail(
                format!("The backend '{backend}' is busy or still loading its model; try again shortly"),
                detail,
            ),
        },
        Fault::Unauthorized => ApiError::Backend {
            status: StatusCode::BAD_GATEWAY,
            message: format!("The backend '{backend}' refused Portico's credentials ({status}); check the backend's api_key_env."),
        },
        Fault::ServerFailure { detail } => ApiError::Backend {
            status: StatusCode::BAD_GATEWAY,
            message: with_detail(format!("The backend '{backend}' failed ({status})"), detail),
        },
    }
}

/// OpenAI's context-window message for `endpoint`.
fn context_message(
    endpoint: Endpoint,
    model: &str,
    context_tokens: Option<u64>,
    prompt_tokens: Option<u64>,
) -> String {
    match (endpoint, context_tokens, prompt_tokens) {
        (Endpoint::Responses, ..) => {
            "Your input exceeds the context window of this model. Please adjust your input and try again.".to_owned()
        }
        (Endpoint::ChatCompletions, Some(context), Some(prompt)) => format!(
            "This model's maximum context length is {context} tokens. However, your messages resulted in {prompt} tokens. Please reduce the length of the messages."
        ),
        (Endpoint::ChatCompletions, Some(context), None) => format!(
            "This model's maximum context length is {context} tokens. However, your messages exceed it. Please reduce the length of the messages."
        ),
        (Endpoint::ChatCompletions, None, _) => format!(
            "Your messages exceed the context window of the model `{model}`. Please reduce the length of the messages."
        ),
        (Endpoint::Embeddings, Some(context), Some(prompt)) => format!(
            "This model's maximum context length is {context} tokens, however you requested {prompt} tokens ({prompt} in your prompt; 0 for the completion). Please reduce your prompt; or completion length."
        ),
        (Endpoint::Embeddings, ..) => format!(
            "Your input exceeds the context window of the model `{model}`. Please reduce your input."
        ),
    }
}

fn with_detail(what: String, detail: Option<String>) -> String {
    match detail {
        Some(detail) => format!("{what}: {detail}"),
        None => format!("{what}."),
    }
}

/// A Chat Completions parameter's name on `endpoint` (`messages[2].role` is
/// `input` on Responses, `max_tokens` is `max_output_tokens`, …).
pub fn param_for(endpoint: Endpoint, param: &str) -> String {
    let head = param.split(['.', '[']).next().unwrap_or(param).to_owned();
    match (endpoint, head.as_str()) {
        (Endpoint::ChatCompletions, _) => param.to_owned(),
        (Endpoint::Responses | Endpoint::Embeddings, "messages" | "prompt") => "input".to_owned(),
        (Endpoint::Responses, "max_tokens" | "max_completion_tokens") => {
            "max_output_tokens".to_owned()
        }
        (Endpoint::Responses, "response_format") => "text.format".to_owned(),
        (Endpoint::Responses, "reasoning_effort") => "reasoning.effort".to_owned(),
        _ => param.to_owned(),
    }
}

/// A response's `error` (`response.failed`) for a backend failure: the
/// Responses spec's codes (`server_error`, `rate_limit_exceeded`,
/// `invalid_prompt`) and a message for the client.
pub fn response_error(backend: &str, model: &str, error: &BackendError) -> (String, String) {
    match error {
        BackendError::Status { fault, status, .. } => match fault {
            Fault::ContextTooLong { .. } => (
                "invalid_prompt".to_owned(),
                context_message(Endpoint::Responses, model, None, None),
            ),
            Fault::RateLimited { .. } => (
                "rate_limit_exceeded".to_owned(),
                format!("The backend '{backend}' is rate limited; try again shortly."),
            ),
            fault if fault.is_client_mistake() => {
                let rendered = fault_error(
                    FailedCall::new(Endpoint::Responses, model, backend),
                    *status,
                    fault.clone(),
                );
                ("invalid_prompt".to_owned(), rendered.body().error.message)
            }
            _ => generation_failed(),
        },
        _ => generation_failed(),
    }
}

/// OpenAI's error for a response that failed while generating (the cause is logged).
/// What a response whose final state could not be saved says (its answer
/// was generated, but a chained call could not find it): ended
/// `response.failed` for a stream, a 503 for a client waiting for the object.
pub const UNSAVED_MESSAGE: &str =
    "The response was generated but could not be saved: the server's database is unavailable. Please try again.";

/// The error of a response that could not be saved.
pub fn unsaved_error() -> ResponseError {
    ResponseError {
        code: "server_error".into(),
        message: UNSAVED_MESSAGE.into(),
    }
}

/// Whether `response` ended failed because it could not be saved.
pub fn is_unsaved(response: &ResponseObject) -> bool {
    response.status == ResponseStatus::Failed
        && response
            .error
            .as_ref()
            .is_some_and(|error| error.message == UNSAVED_MESSAGE)
}

pub fn generation_failed() -> (String, String) {
    (
        "server_error".to_owned(),
        "The model failed to generate a response.".to_owned(),
    )
}

#[cfg(test)]
#[path = "failures_tests.rs"]
mod tests;
