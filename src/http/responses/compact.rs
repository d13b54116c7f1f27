//! `POST /v1/responses/compact`: a long conversation (the request's `input`,
//! after the stored chain of `previous_response_id`) brought down to what a
//! next request needs — OpenAI's shape (as recorded): every user message as a
//! completed message item, then one `compaction` item that stands for the rest. The backend writes the summary
//! (the conversation, then a request to summarize it for a checkpoint); the
//! item's `encrypted_content` carries it for this server to read back when the
//! item comes as input, where the model sees it as an assistant message.
//!
//! How the summary is sealed is in `sealed`. Nothing is stored.

use axum::extract::State;
use axum::response::Response;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::access::project::Project;
use crate::engine::state::AppState;
use crate::engine::{backend_error, input, Endpoint, FailedCall};
use crate::http::extract::JsonBody;
use crate::wire::assistants::shared::check_fields;
use crate::wire::chat_events::estimate_tokens;
use crate::wire::chat_events::{ChatEvent, TokenUsage};
use crate::wire::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::wire::ids::{new_id, unix_now};

use crate::wire::responses::object::ResponseUsage;
use crate::wire::responses::request::CreateResponseRequest;
use crate::wire::responses::sealed::seal;

/// The parameters of OpenAI's `CompactResponseMethodPublicBody` (and `image`,
/// its image options, which openai-python sends).
pub const KNOWN_PARAMETERS: [&str; 9] = [
    "model",
    "input",
    "previous_response_id",
    "instructions",
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "service_tier",
    "image",
];

/// What the backend is asked after the conversation.
const SUMMARY_REQUEST: &str = "Write a checkpoint summary of the conversation above. \
The conversation will continue from your summary alone, without these messages: keep the \
user's goals and requests, the decisions made, facts, names and values established, the \
tool calls made and what they returned, and what remains to be done. Write the summary only.";

/// Compacts a conversation.
#[utoipa::path(
    post, path = "/v1/responses/compact", tag = "Responses",
    request_body(content = Object, description = "OpenAI's CompactResponseMethodPublicBody: model, input, previous_response_id, instructions"),
    responses(
        (status = 200, description = "`{id, object: \"response.compaction\", output: [user messages…, {type: \"compaction\", id, encrypted_content}], created_at, usage}`", body = Object),
        (status = 400, description = "Invalid request, or a model no backend serves (`param: model`, `code: model_not_found`)", body = ErrorEnvelope),
        (status = 502, description = "The backend failed", body = ErrorEnvelope),
        (status = 503, description = "The backend is unreachable", body = ErrorEnvelope),
    )
)]
pub async fn compact_conversation(
    State(state): State<AppState>,
    project: Project,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let request = parse(body)?;
    let model = request.model.clone().unwrap_or_default();
    let backend = state
        .backends
        .resolve(&model)
        .ok_or_else(|| ApiError::responses_model_not_found(&model))?;
    let gathered = input::gather(&state, &project.0, &request).await?;
    let mut chat = input::chat_request(&model, &request, &gathered.history);
    chat.messages
        .push(json!({"role": "user", "content": SUMMARY_REQUEST}));
    chat.whole_answer = true;
    let prompt_chars = serde_json::to_string(&chat.messages).unwrap_or_default();

    let call = state.metrics.backend_call(&model, backend.name());
    let events = backend.stream_chat(chat).await;
    call.attempted(&*backend);
    let events = events.map_err(|error| {
        backend_error(
            FailedCall::new(Endpoint::Responses, &model, backend.name()),
            call.failed(error),
        )
    })?;
    let mut events = call.observe(events);
    let mut summary = String::new();
    let mut usage: Option<TokenUsage> = None;
    while let Some(event) = events.next().await {
        match event.map_err(|error| {
            backend_error(
                FailedCall::new(Endpoint::Responses, &model, backend.name()),
                error,
            )
        })? {
            ChatEvent::TextDelta(text) => summary.push_str(&text),
            ChatEvent::Usage(counted) => usage = Some(counted),
            _ => {}
        }
    }
    let usage = usage.unwrap_or_else(|| TokenUsage {
        prompt_tokens: estimate_tokens(&prompt_chars),
        completion_tokens: estimate_tokens(&summary),
        ..TokenUsage::default()
    });

    let chain_items = gathered
        .history
        .chain
        .iter()
        .filter_map(|stored| serde_json::from_str::<Value>(stored).ok());
    let mut output: Vec<Value> = chain_items
        .chain(gathered.history.items.iter().cloned())
        .filter_map(user_message)
        .collect();
    output.push(json!({
        "id": new_id("cmp_"),
        "type": "compaction",
        "encrypted_content": seal(&summary),
    }));
    Ok(crate::access::meter::metered_json(json!({
        "id": new_id("resp_"),
        "object": "response.compaction",
        "created_at": unix_now(),
        "output": output,
        "usage": ResponseUsage::from(usage),
    })))
}

/// The body as a Responses request: unknown parameters refused, and of the
/// known ones only the conversation's kept (the image, prompt cache and
/// service tier settings are accepted and not used).
fn parse(body: Value) -> ApiResult<CreateResponseRequest> {
    let fields = check_fields(&body, &KNOWN_PARAMETERS)?;
    let nothing = |name: &str| fields.get(name).is_none_or(Value::is_null);
    if nothing("input") && nothing("previous_response_id") {
        return Err(ApiError::invalid_with_code(
            "Missing required parameter: 'input'. There is nothing to compact without 'input' or 'previous_response_id'.",
            Some("input".to_owned()),
            "missing_required_parameter",
        ));
    }
    let used = fields
        .iter()
        .filter(|(key, _)| {
            ["model", "input", "previous_response_id", "instructions"].contains(&key.as_str())
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    CreateResponseRequest::parse(Value::Object(used))
}

/// A user message of the history as the compacted output keeps it.
fn user_message(item: Value) -> Option<Value> {
    let is_user_message = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message")
        == "message"
        && item.get("role").and_then(Value::as_str) == Some("user");
    is_user_message.then(|| {
        json!({
            "id": item.get("id").and_then(Value::as_str).map_or_else(|| new_id("msg_"), str::to_owned),
            "type": "message",
            "status": "completed",
            "content": item.get("content").cloned().unwrap_or_else(|| json!([])),
            "role": "user",
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_user_messages_are_kept() {
        let user = json!({"id": "msg_1", "type": "message", "status": "completed", "role": "user",
                          "content": [{"type": "input_text", "text": "hi"}]});
        assert_eq!(
            user_message(user),
            Some(
                json!({"id": "msg_1", "type": "message", "status": "completed",
                        "content": [{"type": "input_text", "text": "hi"}], "role": "user"})
            )
        );
        assert_eq!(
            user_message(json!({"type": "message", "role": "assistant", "content": []})),
            None
        );
        assert_eq!(
            user_message(json!({"type": "function_call_output", "call_id": "c", "output": "1"})),
            None
        );
    }
}
