//! What the model is given for a Responses request: the request's own input
//! items (normalized, `item_reference`s resolved), after the stored chain of
//! `previous_response_id` or the items of its `conversation`; and the chat
//! request built from them. Shared by creating a response and counting its
//! input tokens.

use serde_json::Value;

use crate::engine::state::AppState;
use crate::store::responses::Continuation;
use crate::wire::chat_events::ChatRequest;
use crate::wire::error::{ApiError, ApiResult};
use crate::wire::responses::input::{normalize_input, InputEntry};
use crate::wire::responses::request::CreateResponseRequest;

use super::history;

/// The gathered input of one request.
#[derive(Debug, Clone, Default)]
pub struct ModelInput {
    /// The request's own input items, as stored.
    pub input_items: Vec<Value>,
    /// Everything the model sees, oldest first (the chain or conversation, then the input).
    pub history: History,
    /// The conversation the request continues, if any.
    pub conversation: Option<String>,
}

/// What the model sees, oldest first: the stored chain's items (as their stored
/// JSON, read straight into chat messages), then `items` (a conversation's
/// items and the request's own input).
#[derive(Debug, Clone, Default)]
pub struct History {
    pub chain: Vec<String>,
    pub items: Vec<Value>,
}

/// Resolves references and loads the chain or conversation the request continues.
pub async fn gather(
    state: &AppState,
    project: &str,
    request: &CreateResponseRequest,
) -> ApiResult<ModelInput> {
    let mut input_items = Vec::new();
    for entry in normalize_input(request.input.as_ref())? {
        match entry {
            InputEntry::Item(item) => input_items.push(item),
            InputEntry::Reference { id, param } => {
                let item = match state.store.responses.find_item(project, &id).await? {
                    Some(item) => item,
                    None => state
                        .store
                        .conversations
                        .find_item(project, &id)
                        .await?
                        .ok_or_else(|| {
                            ApiError::invalid_with_code(
                                format!("Item with id '{id}' not found."),
                                Some(param),
                                "item_not_found",
                            )
                        })?,
                };
                input_items.push(item);
            }
        }
    }
    let mut history = History::default();
    if let Some(previous_id) = &request.previous_response_id {
        match state.store.responses.continuation(project, previous_id).await? {
            Continuation::NotFound => {
                return Err(ApiError::invalid_with_code(
                    format!("Previous response with id '{previous_id}' not found."),
                    Some("previous_response_id".to_owned()),
                    "previous_response_not_found",
                ))
            }
            Continuation::Unfinished(status) => {
                return Err(ApiError::invalid_with_code(
                    format!(
                        "Previous response with id '{previous_id}' is still {status}; wait until it has finished."
                    ),
                    Some("previous_response_id".to_owned()),
                    "previous_response_not_finished",
                ))
            }
            Continuation::Chain(items) => history.chain = items,
        }
    }
    let conversation = conversation_id(request.conversation.as_ref())?;
    if let Some(conversation_id) = &conversation {
        history = History {
            chain: Vec::new(),
            items: state
                .store
                .conversations
                .conversation_items(project, conversation_id)
                .await?
                .ok_or_else(|| {
                    crate::wire::conversations::object::conversation_not_found(conversation_id)
                })?,
        };
    }
    history.items.extend(input_items.iter().cloned());
    Ok(ModelInput {
        input_items,
        history,
        conversation,
    })
}

/// The chat request a backend is asked for `history`.
pub fn chat_request(
    model: &str,
    request: &CreateResponseRequest,
    history: &History,
) -> ChatRequest {
    let tools = request.tools.clone().unwrap_or_default();
    let chat_tools = history::chat_tools(&tools);
    ChatRequest {
        model: model.to_owned(),
        messages: history::chat_messages_after_chain(
            request.instructions.as_deref(),
            &history.chain,
            &history.items,
        ),
        parallel_tool_calls: if chat_tools.is_empty() {
            None
        } else {
            request.parallel_tool_calls
        },
        tool_choice: if chat_tools.is_empty() {
            None
        } else {
            request.tool_choice.as_ref().map(history::chat_tool_choice)
        },
        tools: chat_tools,
        response_format: history::chat_response_format(request.text.as_ref()),
        temperature: request.temperature,
        top_p: request.top_p,
        max_tokens: request.max_output_tokens,
        user: request.user.clone(),
        reasoning_effort: request
            .reasoning
            .as_ref()
            .and_then(|reasoning| reasoning.get("effort"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        // Only the final object is wanted: the backend may answer in one piece.
        whole_answer: !request.stream.unwrap_or(false) && !request.background.unwrap_or(false),
    }
}

/// The conversation id of a request's `conversation` (a string or `{"id": …}`).
fn conversation_id(conversation: Option<&Value>) -> ApiResult<Option<String>> {
    match conversation {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) => Ok(Some(id.clone())),
        Some(Value::Object(object)) => match object.get("id") {
            Some(Value::String(id)) => Ok(Some(id.clone())),
            None | Some(Value::Null) => Err(ApiError::invalid_with_code(
                "Missing required parameter: 'conversation.id'.",
                Some("conversation.id".to_owned()),
                "missing_required_parameter",
            )),
            Some(other) => Err(ApiError::invalid_with_code(
                format!(
                    "Invalid type for 'conversation.id': expected a string, but got {} instead.",
                    crate::wire::validate::json_type_phrase(other)
                ),
                Some("conversation.id".to_owned()),
                "invalid_type",
            )),
        },
        Some(_) => Err(ApiError::invalid_with_code(
            "Invalid type for 'conversation': expected a string or an object.",
            Some("conversation".to_owned()),
            "invalid_type",
        )),
    }
}
