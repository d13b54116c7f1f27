//! Extractors whose rejections are OpenAI error envelopes: JSON bodies (with the
//! failing field's path as `param`), and query strings ([`QueryParams`]).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::wire::error::ApiError;
use crate::wire::json::{from_value, parse_json};
use crate::wire::query::QueryParams;

/// A JSON body parsed into `T`; every failure is a 400 (or 413) envelope.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state).await?;
        let value: Value = parse_json(&bytes)?;
        from_value(value).map(JsonBody)
    }
}

/// Reads the whole body, mapping the size limit to 413.
pub async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(failure)
                if is_length_limit(&failure.to_string()) =>
            {
                ApiError::PayloadTooLarge {
                    message: "The request body is larger than this server accepts.".into(),
                }
            }
            other => ApiError::invalid(format!("Could not read the request body: {other}"), None),
        })
}

fn is_length_limit(message: &str) -> bool {
    message.contains("length limit")
}

/// A query string as [`QueryParams`]; a malformed one is a 400 envelope.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(pairs)| QueryParams(pairs))
            .map_err(|rejection| {
                ApiError::invalid(format!("Invalid query string: {rejection}"), None)
            })
    }
}
