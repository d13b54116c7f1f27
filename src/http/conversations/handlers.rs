//! HTTP handlers of the Conversations API. Thin: validate, authenticate, call
//! the store, answer OpenAI's JSON. Another project's conversation is a 404,
//! exactly like one that never existed.

use axum::extract::{Path, Request, State};
use axum::Json;
use serde_json::{json, Value};

use crate::access::project::Project;
use crate::engine::state::AppState;
use crate::http::extract::{read_body, JsonBody};
use crate::store::conversations::StoredConversation;
use crate::store::factory::Store;
use crate::wire::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::wire::ids::{new_id, unix_now};
use crate::wire::json::parse_json;
use crate::wire::query::QueryParams;
use crate::wire::responses::input::{normalize_input, InputEntry};

use crate::wire::conversations::object::{conversation_not_found, item_not_found};
use crate::wire::conversations::object::{
    ConversationItemList, ConversationObject, DeletedConversation,
};
use crate::wire::conversations::request::{
    self, items_param, rename_input_param, validate_conversation_id, validate_include,
    CreateConversationRequest, CreateItemsRequest, UpdateConversationRequest,
};

/// The conversation, or OpenAI's 404.
async fn existing(
    state: &AppState,
    project: &Project,
    conversation_id: &str,
) -> ApiResult<StoredConversation> {
    validate_conversation_id(conversation_id)?;
    state
        .store
        .conversations
        .get_conversation(&project.0, conversation_id)
        .await?
        .ok_or_else(|| conversation_not_found(conversation_id))
}

/// Creates a conversation, optionally with metadata and up to 20 first items.
#[utoipa::path(
    post, path = "/v1/conversations", tag = "Conversations",
    request_body = CreateConversationRequest,
    responses(
        (status = 200, description = "The new conversation", body = ConversationObject),
        (status = 400, description = "Invalid body, metadata or items", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong API key", body = ErrorEnvelope),
    )
)]
pub async fn create_conversation(
    State(state): State<AppState>,
    project: Project,
    body: Request,
) -> ApiResult<Json<ConversationObject>> {
    let bytes = read_body(body, &state).await?;
    // Nothing is required, so an empty body is an empty object.
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        parse_json(&bytes)?
    };
    let request = request::parse_create(body)?;
    let items = match &request.items {
        Some(items) => resolve_items(&state.store, &project.0, items).await?,
        None => Vec::new(),
    };
    let conversation = StoredConversation {
        id: new_id("conv_"),
        created_at: unix_now(),
        metadata: request.metadata.unwrap_or_default(),
    };
    state
        .store
        .conversations
        .insert_conversation(&project.0, &conversation, &items)
        .await?;
    Ok(Json(conversation.into()))
}

/// Retrieves a conversation.
#[utoipa::path(
    get, path = "/v1/conversations/{conversation_id}", tag = "Conversations",
    params(("conversation_id" = String, Path, description = "The conversation's id (`conv_…`)")),
    responses(
        (status = 200, description = "The conversation", body = ConversationObject),
        (status = 400, description = "Not a conversation id", body = ErrorEnvelope),
        (status = 404, description = "No such conversation in this project", body = ErrorEnvelope),
    )
)]
pub async fn get_conversation(
    State(state): State<AppState>,
    project: Project,
    Path(conversation_id): Path<String>,
) -> ApiResult<Json<ConversationObject>> {
    Ok(Json(
        existing(&state, &project, &conversation_id).await?.into(),
    ))
}

/// Replaces a conversation's metadata.
#[utoipa::path(
    post, path = "/v1/conversations/{conversation_id}", tag = "Conversations",
    params(("conversation_id" = String, Path, description = "The conversation's id (`conv_…`)")),
    request_body = UpdateConversationRequest,
    responses(
        (status = 200, description = "The updated conversation", body = ConversationObject),
        (status = 400, description = "Invalid body or metadata", body = ErrorEnvelope),
        (status = 404, description = "No such conversation in this project", body = ErrorEnvelope),
    )
)]
pub async fn update_conversation(
    State(state): State<AppState>,
    project: Project,
    Path(conversation_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<ConversationObject>> {
    validate_conversation_id(&conversation_id)?;
    let metadata = request::parse_update(body)?;
    let updated = state
        .store
        .conversations
        .update_metadata(&project.0, &conversation_id, &metadata)
        .await?
        .ok_or_else(|| conversation_not_found(&conversation_id))?;
    Ok(Json(updated.into()))
}

/// Deletes a conversation. Its items are not deleted.
#[utoipa::path(
    delete, path = "/v1/conversations/{conversation_id}", tag = "Conversations",
    params(("conversation_id" = String, Path, description = "The conversation's id (`conv_…`)")),
    responses(
        (status = 200, description = "Deleted", body = DeletedConversation),
        (status = 400, description = "Not a conversation id", body = ErrorEnvelope),
        (status = 404, description = "No such conversation in this project", body = ErrorEnvelope),
    )
)]
pub async fn delete_conversation(
    State(state): State<AppState>,
    project: Project,
    Path(conversation_id): Path<String>,
) -> ApiResult<Json<DeletedConversation>> {
    validate_conversation_id(&conversation_id)?;
    if !state
        .store
        .conversations
        .delete_conversation(&project.0, &conversation_id)
        .await?
    {
        return Err(conversation_not_found(&conversation_id));
    }
    Ok(Json(DeletedConversation::new(conversation_id)))
}

/// Adds up to 20 items to a conversation and returns them as stored.
#[utoipa::path(
    post, path = "/v1/conversations/{conversation_id}/items", tag = "Conversations",
    params(
        ("conversation_id" = String, Path, description = "The conversation's id (`conv_…`)"),
        ("include[]" = Option<Vec<String>>, Query, description = "Extra fields to include (accepted: items are stored whole)"),
    ),
    request_body = CreateItemsRequest,
    responses(
        (status = 200, description = "The items added", body = ConversationItemList),
        (status = 400, description = "Invalid body or items", body = ErrorEnvelope),
        (status = 404, description = "No such conversation in this project", body = ErrorEnvelope),
    )
)]
pub async fn create_items(
    State(state): State<AppState>,
    project: Project,
    Path(conversation_id): Path<String>,
    query: QueryParams,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<ConversationItemList>> {
    validate_conversation_id(&conversation_id)?;
    validate_include(&query)?;
    let items = request::parse_create_items(body)?;
    existing(&state, &project, &conversation_id).await?;
    let items = resolve_items(&state.store, &project.0, &items).await?;
    if !state
        .store
        .conversations
        .append_items(&project.0, &conversation_id, &items)
        .await?
    {
        return Err(conversation_not_found(&conversation_id));
    }
    Ok(Json(ConversationItemList::new(items, false)))
}

/// Lists a conversation's items (newest first by default).
#[utoipa::path(
    get, path = "/v1/conversations/{conversation_id}/items", tag = "Conversations",
    params(
        ("conversation_id" = String, Path, description = "The conversation's id (`conv_…`)"),
        ("after" = Option<String>, Query, description = "An item id to list after"),
        ("limit" = Option<u32>, Query, description = "1 to 100, default 20"),
        ("order" = Option<String>, Query, description = "`asc` or `desc` (default)"),
        ("include[]" = Option<Vec<String>>, Query, description = "Extra fields to include (accepted: items are stored whole)"),
    ),
    responses(
        (status = 200, description = "A page of items", body = ConversationItemList),
        (status = 400, description = "Invalid query", body = ErrorEnvelope),
        (status = 404, description = "No such conversation in this project", body = ErrorEnvelope),
    )
)]
pub async fn list_items(
    State(state): State<AppState>,
    project: Project,
    Path(conversation_id): Path<String>,
    query: QueryParams,
) -> ApiResult<Json<ConversationItemList>> {
    validate_conversation_id(&conversation_id)?;
    let limit = query.limit()?;
    let descending = query.descending(true)?;
    validate_include(&query)?;
    existing(&state, &project, &conversation_id).await?;
    let page = state
        .store
        .conversations
        .list_items(
            &project.0,
            &conversation_id,
            query.get("after"),
            limit,
            descending,
        )
        .await?;
    Ok(Json(ConversationItemList::new(page.items, page.has_more)))
}

/// Retrieves one item of a conversation.
#[utoipa::path(
    get, path = "/v1/conversations/{conversation_id}/items/{item_id}", tag = "Conversations",
    params(
        ("conversation_id" = String, Path, description = "The conversation's id (`conv_…`)"),
        ("item_id" = String, Path, description = "The item's id"),
        ("include[]" = Option<Vec<String>>, Query, description = "Extra fields to include (accepted: items are stored whole)"),
    ),
    responses(
        (status = 200, description = "The item", body = Object),
        (status = 400, description = "Invalid id or query", body = ErrorEnvelope),
        (status = 404, description = "No such conversation in this project, or no such item in it", body = ErrorEnvelope),
    )
)]
pub async fn get_item(
    State(state): State<AppState>,
    project: Project,
    Path((conversation_id, item_id)): Path<(String, String)>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    validate_conversation_id(&conversation_id)?;
    validate_include(&query)?;
    existing(&state, &project, &conversation_id).await?;
    state
        .store
        .conversations
        .get_item(&project.0, &conversation_id, &item_id)
        .await?
        .map(Json)
        .ok_or_else(|| item_not_found(&item_id))
}

/// Deletes one item of a conversation and returns the conversation.
#[utoipa::path(
    delete, path = "/v1/conversations/{conversation_id}/items/{item_id}", tag = "Conversations",
    params(
        ("conversation_id" = String, Path, description = "The conversation's id (`conv_…`)"),
        ("item_id" = String, Path, description = "The item's id"),
    ),
    responses(
        (status = 200, description = "The conversation the item was removed from", body = ConversationObject),
        (status = 400, description = "Not a conversation id", body = ErrorEnvelope),
        (status = 404, description = "No such conversation in this project, or no such item in it", body = ErrorEnvelope),
    )
)]
pub async fn delete_item(
    State(state): State<AppState>,
    project: Project,
    Path((conversation_id, item_id)): Path<(String, String)>,
) -> ApiResult<Json<ConversationObject>> {
    let conversation = existing(&state, &project, &conversation_id).await?;
    if !state
        .store
        .conversations
        .delete_item(&project.0, &conversation_id, &item_id)
        .await?
    {
        return Err(item_not_found(&item_id));
    }
    Ok(Json(conversation.into()))
}

/// Normalizes items as stored (ids, `status`), resolving `item_reference`s
/// against the project's stored responses, then its conversations.
pub async fn resolve_items(store: &Store, project: &str, items: &[Value]) -> ApiResult<Vec<Value>> {
    let entries =
        normalize_input(Some(&Value::Array(items.to_vec()))).map_err(rename_input_param)?;
    let mut resolved = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry {
            InputEntry::Item(item) => resolved.push(item),
            InputEntry::Reference { id, param } => {
                let found = match store.responses.find_item(project, &id).await? {
                    Some(item) => Some(item),
                    None => store.conversations.find_item(project, &id).await?,
                };
                let item = found.ok_or_else(|| {
                    ApiError::invalid_with_code(
                        format!("Item with id '{id}' not found."),
                        Some(items_param(&param)),
                        "item_not_found",
                    )
                })?;
                resolved.push(item);
            }
        }
    }
    Ok(resolved)
}
