//! `POST /v1/responses/input_tokens`: how many tokens a Responses request's input
//! would be, counted with the backend's tokenizer where it has one (llama.cpp and
//! vLLM serve `/tokenize`), otherwise estimated at about four characters a token.
//! The `x-portico-token-count` header says which: `tokenizer` or `estimate`.

use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::access::project::Project;
use crate::engine::input;
use crate::engine::state::AppState;
use crate::http::extract::JsonBody;
use crate::wire::chat_events::estimate_tokens;
use crate::wire::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::wire::json::from_value;

use crate::wire::responses::request::CreateResponseRequest;

/// The parameters OpenAI's `TokenCountsBody` accepts.
pub const KNOWN_PARAMETERS: [&str; 12] = [
    "model",
    "input",
    "previous_response_id",
    "tools",
    "text",
    "reasoning",
    "truncation",
    "instructions",
    "personality",
    "conversation",
    "tool_choice",
    "parallel_tool_calls",
];

/// Counts the input tokens of a would-be response.
#[utoipa::path(
    post, path = "/v1/responses/input_tokens", tag = "Responses",
    request_body(content = Object, description = "OpenAI's TokenCountsBody (model, input, instructions, tools, previous_response_id, conversation, …)"),
    responses(
        (status = 200, description = "`{\"object\":\"response.input_tokens\",\"input_tokens\":n}`; header x-portico-token-count: tokenizer | estimate", body = Object),
        (status = 400, description = "Invalid request, or a model no backend serves (`param: model`, `code: model_not_found`)", body = ErrorEnvelope),
        (status = 404, description = "The `conversation` does not exist", body = ErrorEnvelope),
    )
)]
pub async fn count_input_tokens(
    State(state): State<AppState>,
    project: Project,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let Value::Object(mut fields) = body else {
        return Err(ApiError::invalid_with_code(
            "Invalid type for request body: expected an object.",
            None,
            "invalid_type",
        ));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|key| !KNOWN_PARAMETERS.contains(&key.as_str()))
    {
        return Err(ApiError::invalid_with_code(
            format!("Unknown parameter: '{unknown}'."),
            Some(unknown.clone()),
            "unknown_parameter",
        ));
    }
    fields.remove("personality");
    let request: CreateResponseRequest = from_value(Value::Object(fields))?;
    let model = request.model.clone().unwrap_or_default();
    let backend = if model.is_empty() {
        None
    } else {
        Some(
            state
                .backends
                .resolve(&model)
                .ok_or_else(|| ApiError::responses_model_not_found(&model))?,
        )
    };
    let gathered = input::gather(&state, &project.0, &request).await?;
    let chat = input::chat_request(&model, &request, &gathered.history);
    let text = prompt_text(&chat.messages, &chat.tools);
    let counted = match &backend {
        Some(backend) => backend.count_tokens(&text).await,
        None => None,
    };
    let (input_tokens, method) = match counted {
        Some(count) => (count, "tokenizer"),
        None => (estimate_tokens(&text), "estimate"),
    };
    let mut response =
        axum::Json(json!({"object": "response.input_tokens", "input_tokens": input_tokens}))
            .into_response();
    response
        .headers_mut()
        .insert("x-portico-token-count", HeaderValue::from_static(method));
    Ok(response)
}

/// The text the model would read: each message's role and content, then the tools.
fn prompt_text(messages: &[Value], tools: &[Value]) -> String {
    let mut text = String::new();
    for message in messages {
        text.push_str(
            message
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        text.push('\n');
        match message.get("content") {
            Some(Value::String(content)) => text.push_str(content),
            Some(other) if !other.is_null() => text.push_str(&other.to_string()),
            _ => {}
        }
        if let Some(calls) = message.get("tool_calls") {
            text.push_str(&calls.to_string());
        }
        text.push('\n');
    }
    if !tools.is_empty() {
        text.push_str(&Value::Array(tools.to_vec()).to_string());
    }
    text
}
