//! The one error type of the HTTP API. Every failure a client can see is an
//! `ApiError`, and every `ApiError` renders OpenAI's envelope
//! `{"error":{"message","type","param","code"}}` with the status chosen in one
//! exhaustive `match` below. Internal details are logged here once and never leaked.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered to the client in OpenAI's envelope.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or breaks a rule (OpenAI's `invalid_request_error`).
    #[error("{message}")]
    InvalidRequest {
        message: String,
        param: Option<String>,
        code: Option<String>,
    },
    /// 401: no API key or an unknown one.
    #[error("{message}")]
    Unauthorized { message: String },
    /// 403: the key exists but may not do this.
    #[error("{message}")]
    Forbidden { message: String },
    /// 404: an unknown object, model or route (OpenAI uses `invalid_request_error`).
    #[error("{message}")]
    NotFound {
        message: String,
        param: Option<String>,
        code: Option<String>,
    },
    /// 405: a known path with the wrong method.
    #[error("{message}")]
    MethodNotAllowed { message: String },
    /// 413: the body is over the configured limit.
    #[error("{message}")]
    PayloadTooLarge { message: String },
    /// 502/503/504: the backend failed before the first token. Never retried by SDKs
    /// (`x-should-retry: false`), so a failed turn is never generated three times.
    #[error("{message}")]
    Backend { status: StatusCode, message: String },
    /// A client error a backend answered (400, 404, 413, 422, 429, …), relayed
    /// with the backend's own envelope fields.
    #[error("{}", error.message)]
    Relayed {
        status: StatusCode,
        error: ErrorBody,
    },
    /// 403/429: the gateway's own policy refused the request (a suspended
    /// project or key, a rate limit, a spent budget), with OpenAI's fields.
    #[error("{}", error.message)]
    Refused {
        status: StatusCode,
        error: ErrorBody,
    },
    /// 503: the gateway's own database cannot be reached right now.
    #[error("{message}")]
    Unavailable { message: String },
    /// 500: a bug or a storage failure. The detail is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 naming the offending parameter.
    pub fn invalid(message: impl Into<String>, param: impl Into<Option<String>>) -> Self {
        Self::InvalidRequest {
            message: message.into(),
            param: param.into(),
            code: None,
        }
    }

    /// A 400 naming the offending parameter, with an OpenAI error code.
    pub fn invalid_with_code(
        message: impl Into<String>,
        param: impl Into<Option<String>>,
        code: &str,
    ) -> Self {
        Self::InvalidRequest {
            message: message.into(),
            param: param.into(),
            code: Some(code.to_owned()),
        }
    }

    /// A 404 for an object that does not exist (or belongs to another project).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
            param: None,
            code: None,
        }
    }

    /// OpenAI's answer for a model no backend serves.
    pub fn model_not_found(model: &str) -> Self {
        Self::NotFound {
            message: format!("The model `{model}` does not exist or you do not have access to it."),
            param: None,
            code: Some("model_not_found".to_owned()),
        }
    }

    /// The Responses API's answer for a model no backend serves: a 400 naming
    /// `model` (Chat Completions and the others answer
    /// [`model_not_found`](Self::model_not_found)'s 404; both recorded).
    pub fn responses_model_not_found(model: &str) -> Self {
        Self::InvalidRequest {
            message: format!("The requested model '{model}' does not exist."),
            param: Some("model".to_owned()),
            code: Some("model_not_found".to_owned()),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Backend { status, .. }
            | Self::Relayed { status, .. }
            | Self::Refused { status, .. } => *status,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The envelope body, as OpenAI would send it.
    pub fn body(&self) -> ErrorEnvelope {
        if let Self::Relayed { error, .. } | Self::Refused { error, .. } = self {
            return ErrorEnvelope {
                error: error.clone(),
            };
        }
        let (message, kind, param, code) = match self {
            Self::InvalidRequest {
                message,
                param,
                code,
            }
            | Self::NotFound {
                message,
                param,
                code,
            } => (
                message.clone(),
                "invalid_request_error",
                param.clone(),
                code.clone(),
            ),
            Self::Unauthorized { message } => (
                message.clone(),
                "invalid_request_error",
                None,
                Some("invalid_api_key".to_owned()),
            ),
            Self::Forbidden { message } => (
                message.clone(),
                "permission_error",
                None,
                Some("forbidden".to_owned()),
            ),
            Self::MethodNotAllowed { message } => (
                message.clone(),
                "invalid_request_error",
                None,
                Some("method_not_allowed".to_owned()),
            ),
            Self::PayloadTooLarge { message } => (
                message.clone(),
                "invalid_request_error",
                None,
                Some("request_too_large".to_owned()),
            ),
            Self::Backend { status, message } => (
                message.clone(),
                "server_error",
                None,
                Some(backend_error_code(*status).to_owned()),
            ),
            Self::Relayed { error, .. } | Self::Refused { error, .. } => (
                error.message.clone(),
                "invalid_request_error",
                error.param.clone(),
                error.code.clone(),
            ),
            Self::Unavailable { message } => (
                message.clone(),
                "server_error",
                None,
                Some("service_unavailable".to_owned()),
            ),
            Self::Internal(_) => (
                "The server had an error while processing your request.".to_owned(),
                "server_error",
                None,
                Some("server_error".to_owned()),
            ),
        };
        ErrorEnvelope {
            error: ErrorBody {
                message,
                r#type: kind.to_owned(),
                param,
                code,
            },
        }
    }
}

fn backend_error_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::GATEWAY_TIMEOUT => "backend_timeout",
        StatusCode::SERVICE_UNAVAILABLE => "backend_unavailable",
        _ => "backend_error",
    }
}

/// `{"error": {...}}`, OpenAI's error envelope.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// The four keys OpenAI always sends; `param` and `code` may be null.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub message: String,
    pub r#type: String,
    pub param: Option<String>,
    pub code: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let mut response = (status, axum::Json(self.body())).into_response();
        // Server-side failures must not be repeated by the SDKs' automatic retries:
        // each retry would run (and store) the turn again.
        if status.is_server_error() {
            response
                .headers_mut()
                .insert("x-should-retry", HeaderValue::from_static("false"));
        }
        response
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(error: serde_json::Error) -> Self {
        Self::Internal(format!("json: {error}"))
    }
}

/// Results of handlers and services.
pub type ApiResult<T> = Result<T, ApiError>;
