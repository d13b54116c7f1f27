//! Embeddings: `POST /v1/embeddings`, forwarded unchanged to the model's
//! OpenAI-compatible backend (`{base_url}/embeddings`) and answered in OpenAI's
//! shape (see [`normalize_list`]). Upstream errors are wrapped in OpenAI's
//! envelope by the engine's `backend_error`, as for chat: a backend's client
//! error keeps its status, `param` and `code`. In-process backends cannot
//! embed: their models get a 400 naming `model`.
//!
//! openai-python asks for `encoding_format: "base64"` by default and decodes the
//! string as little-endian float32, while many local servers ignore
//! `encoding_format` and always answer float arrays: the answer is converted to
//! the encoding the client asked for, in both directions.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::access::project::Project;
use crate::backends::backend::Backend;
use crate::backends::error::BackendError;
use crate::backends::fallback::{Forwarded, PassthroughPath};
use crate::engine::state::AppState;
use crate::engine::{backend_error, Endpoint, FailedCall};
use crate::http::chat::required_model;
use crate::http::extract::JsonBody;
use crate::wire::error::{ApiError, ApiResult, ErrorEnvelope};

/// The Embeddings route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/embeddings", post(create_embedding))
}

/// How the client wants each vector: `float` (the API's default) or `base64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingFormat {
    /// A JSON array of numbers.
    Float,
    /// Base64 of the little-endian float32 bytes.
    Base64,
}

/// Creates embeddings for `input` with the model's backend.
#[utoipa::path(
    post, path = "/v1/embeddings", tag = "Embeddings",
    request_body(content = Object, description = "OpenAI's CreateEmbeddingRequest: `model`, `input` (a string, an array of strings, an array of token ids or an array of token arrays), optional `encoding_format` (`float` or `base64`), `dimensions`, `user`"),
    responses(
        (status = 200, description = "A list of embeddings (`object: \"list\"`)", body = Object),
        (status = 400, description = "Invalid request, or the model's backend cannot embed", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong API key", body = ErrorEnvelope),
        (status = 404, description = "Unknown model", body = ErrorEnvelope),
        (status = 502, description = "The backend failed", body = ErrorEnvelope),
        (status = 503, description = "The backend is unreachable", body = ErrorEnvelope),
    )
)]
pub async fn create_embedding(
    State(state): State<AppState>,
    _project: Project,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let model = required_model(&body)?;
    check_input(body.get("input"))?;
    let body = with_integer_tokens(body);
    let format = requested_format(&body)?;
    let candidates = state
        .backends
        .resolve_candidates(&model)
        .ok_or_else(|| ApiError::model_not_found(&model))?;
    let call = state.metrics.backend_call(&model, candidates.name());
    let forwarded = candidates.forward(PassthroughPath::Embeddings, &body).await;
    call.attempted(&candidates);
    let (answer, name) = match forwarded {
        Ok(Forwarded::Answer {
            answer, backend, ..
        }) => (answer, backend),
        Err(error) => {
            return Err(backend_error(
                FailedCall::new(Endpoint::Embeddings, &model, candidates.name()),
                call.failed(error),
            ))
        }
        Ok(Forwarded::NotForwardable {
            failure: Some(failure),
            ..
        }) => {
            return Err(backend_error(
                FailedCall::new(Endpoint::Embeddings, &model, candidates.name()),
                call.failed(failure),
            ))
        }
        // The OpenAI-compatible HTTP backends are the ones that can embed.
        Ok(Forwarded::NotForwardable {
            rest,
            failure: None,
        }) => {
            call.not_sent();
            return Err(ApiError::invalid(
                format!(
                    "The model `{model}` is served by the backend '{}', which cannot create embeddings.",
                    rest.name()
                ),
                Some("model".to_owned()),
            ));
        }
    };
    let name = name.as_str();
    let failed = |detail: String| {
        backend_error(
            FailedCall::new(Endpoint::Embeddings, &model, name),
            call.failed(BackendError::Stream(detail)),
        )
    };
    let bytes = answer
        .bytes()
        .await
        .map_err(|error| failed(error.to_string()))?;
    call.answered();
    let answer: Value =
        serde_json::from_slice(&bytes).map_err(|_| failed("its answer is not JSON".to_owned()))?;
    call.usage_json(answer.get("usage"));
    let list = normalize_list(answer, &model, format).map_err(failed)?;
    call.succeeded();
    Ok(Json(list))
}

/// `input` must be a string, or a non-empty array of strings, of token ids, or
/// of non-empty token arrays.
fn check_input(input: Option<&Value>) -> ApiResult<()> {
    let is_token = |value: &Value| crate::wire::json::whole_number(value).is_some();
    let valid = match input {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid_with_code(
                "Missing required parameter: 'input'.",
                Some("input".to_owned()),
                "missing_required_parameter",
            ))
        }
        Some(Value::String(_)) => true,
        Some(Value::Array(items)) => {
            !items.is_empty()
                && (items.iter().all(Value::is_string)
                    || items.iter().all(is_token)
                    || items.iter().all(|item| {
                        item.as_array()
                            .is_some_and(|tokens| !tokens.is_empty() && tokens.iter().all(is_token))
                    }))
        }
        Some(_) => false,
    };
    if valid {
        return Ok(());
    }
    Err(ApiError::invalid_with_code(
        "Invalid value for 'input': expected a string, or a non-empty array of strings, of token ids (integers) or of token arrays.",
        Some("input".to_owned()),
        "invalid_value",
    ))
}

/// The body with token ids written as integers (`5.0` is accepted as `5`;
/// backends may not accept it).
fn with_integer_tokens(mut body: Value) -> Value {
    fn integers(value: &mut Value) {
        match value {
            Value::Array(items) => items.iter_mut().for_each(integers),
            Value::Number(_) => {
                if let Some(token) = crate::wire::json::whole_number(value) {
                    *value = Value::from(token);
                }
            }
            _ => {}
        }
    }
    if let Some(input) = body.get_mut("input") {
        integers(input);
    }
    body
}

fn requested_format(body: &Value) -> ApiResult<EncodingFormat> {
    match body.get("encoding_format") {
        None | Some(Value::Null) => Ok(EncodingFormat::Float),
        Some(Value::String(format)) if format == "float" => Ok(EncodingFormat::Float),
        Some(Value::String(format)) if format == "base64" => Ok(EncodingFormat::Base64),
        Some(other) => Err(ApiError::invalid_with_code(
            format!("Invalid value for 'encoding_format': expected 'float' or 'base64', but got {other}."),
            Some("encoding_format".to_owned()),
            "invalid_value",
        )),
    }
}

/// A backend's answer in OpenAI's shape, keys in OpenAI's order and the
/// backend's other keys after them: `object: "list"`, `data[i]` {`object:
/// "embedding"`, `index` (its position when missing), `embedding` in `format`},
/// `model` (the requested one when missing), `usage` {`prompt_tokens` (0),
/// `total_tokens` (`prompt_tokens`)}. An answer without `data` or with an
/// embedding that is neither numbers nor base64 is an error (its detail).
pub fn normalize_list(answer: Value, model: &str, format: EncodingFormat) -> Result<Value, String> {
    let Value::Object(mut rest) = answer else {
        return Err("its answer is not a JSON object".to_owned());
    };
    let Some(Value::Array(items)) = rest.remove("data") else {
        return Err("its answer has no `data` list".to_owned());
    };
    let data = items
        .into_iter()
        .enumerate()
        .map(|(position, item)| normalize_item(item, position, format))
        .collect::<Result<Vec<_>, _>>()?;
    rest.remove("object");
    let mut out = Map::new();
    out.insert("object".into(), json!("list"));
    out.insert("data".into(), Value::Array(data));
    out.insert(
        "model".into(),
        take(&mut rest, "model").unwrap_or_else(|| json!(model)),
    );
    let mut usage = match rest.remove("usage") {
        Some(Value::Object(usage)) => usage,
        _ => Map::new(),
    };
    let prompt_tokens = take(&mut usage, "prompt_tokens").unwrap_or_else(|| json!(0));
    let total_tokens = take(&mut usage, "total_tokens").unwrap_or_else(|| prompt_tokens.clone());
    let mut usage_out = Map::new();
    usage_out.insert("prompt_tokens".into(), prompt_tokens);
    usage_out.insert("total_tokens".into(), total_tokens);
    usage_out.extend(usage);
    out.insert("usage".into(), Value::Object(usage_out));
    out.extend(rest);
    Ok(Value::Object(out))
}

fn normalize_item(item: Value, position: usize, format: EncodingFormat) -> Result<Value, String> {
    let Value::Object(mut rest) = item else {
        return Err(format!("`data[{position}]` is not an object"));
    };
    rest.remove("object");
    let index = take(&mut rest, "index").unwrap_or_else(|| json!(position));
    let embedding = take(&mut rest, "embedding")
        .ok_or_else(|| format!("`data[{position}]` has no embedding"))?;
    let embedding = match (format, embedding) {
        (EncodingFormat::Base64, Value::Array(numbers)) => {
            let floats = numbers
                .iter()
                .map(|number| number.as_f64().map(|number| number as f32))
                .collect::<Option<Vec<f32>>>()
                .ok_or_else(|| format!("`data[{position}].embedding` is not a list of numbers"))?;
            Value::String(crate::wire::embeddings::floats_to_base64(&floats))
        }
        (EncodingFormat::Float, Value::String(text)) => {
            let floats = crate::wire::embeddings::base64_to_floats(&text)
                .map_err(|error| format!("`data[{position}].embedding`: {error}"))?;
            floats
                .into_iter()
                .map(|float| json!(f64::from(float)))
                .collect()
        }
        (_, embedding) => embedding,
    };
    let mut out = Map::new();
    out.insert("object".into(), json!("embedding"));
    out.insert("index".into(), index);
    out.insert("embedding".into(), embedding);
    out.extend(rest);
    Ok(Value::Object(out))
}

/// Takes `key` out of `object` unless it is absent or null.
fn take(object: &mut Map<String, Value>, key: &str) -> Option<Value> {
    object.remove(key).filter(|value| !value.is_null())
}

#[cfg(test)]
mod tests;
