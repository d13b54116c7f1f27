//! HTTP handlers of stored chat completions: list, retrieve, update (metadata
//! only), delete, and list a completion's messages. Thin: parse, call the store,
//! answer OpenAI's JSON. A completion that is not stored in the caller's project
//! is OpenAI's 404 naming `completion_id`.

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::access::project::Project;
use crate::engine::state::AppState;
use crate::http::extract::JsonBody;
use crate::store::chat_completions::ListFilter;
use crate::wire::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::wire::query::QueryParams;
use crate::wire::validate::validate_metadata;

use crate::engine::chat::stored::message_items;

/// Stored completions list newest first when no `order` is given: OpenAI's
/// answers do (its reference says `asc`, but its recorded lists all come newest
/// first, with `order=asc` giving the oldest).
const LIST_NEWEST_FIRST: bool = true;

/// A page of stored completions or of a completion's messages (`object:
/// "list"`); `first_id` and `last_id` are null on an empty page.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChatCompletionList {
    /// Always `list`.
    pub object: String,
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<Value>,
    pub first_id: Option<String>,
    pub last_id: Option<String>,
    pub has_more: bool,
}

impl ChatCompletionList {
    fn new(data: Vec<Value>, has_more: bool) -> Self {
        let id_of = |item: Option<&Value>| {
            item.and_then(|item| item.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Self {
            object: "list".to_owned(),
            first_id: id_of(data.first()),
            last_id: id_of(data.last()),
            has_more,
            data,
        }
    }
}

/// The answer to a delete.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DeletedChatCompletion {
    /// Always `chat.completion.deleted`.
    pub object: String,
    pub id: String,
    pub deleted: bool,
}

/// OpenAI's 404 for a completion that is not stored in the caller's project.
pub fn completion_not_found(id: &str) -> ApiError {
    ApiError::NotFound {
        message: format!("Completion {id} not found"),
        param: Some("completion_id".to_owned()),
        code: Some("not_found".to_owned()),
    }
}

/// Lists stored completions, filtered by `model` and `metadata[key]=value`.
#[utoipa::path(
    get, path = "/v1/chat/completions", tag = "Chat",
    params(
        ("model" = Option<String>, Query, description = "Only completions of this model"),
        ("metadata[key]" = Option<String>, Query, description = "Only completions whose metadata has this value under `key` (repeatable)"),
        ("after" = Option<String>, Query, description = "A completion id to list after"),
        ("limit" = Option<u32>, Query, description = "1 to 100, default 20"),
        ("order" = Option<String>, Query, description = "`asc` or `desc` (by creation; newest first when absent, as OpenAI answers)"),
    ),
    responses(
        (status = 200, description = "A page of stored completions", body = ChatCompletionList),
        (status = 400, description = "Invalid query", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong API key", body = ErrorEnvelope),
    )
)]
pub async fn list_chat_completions(
    State(state): State<AppState>,
    project: Project,
    query: QueryParams,
) -> ApiResult<Json<ChatCompletionList>> {
    let metadata = query
        .0
        .iter()
        .filter_map(|(name, value)| {
            let key = name.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((key.to_owned(), value.clone()))
        })
        .collect();
    let filter = ListFilter {
        model: query.get("model"),
        metadata,
        after: query.get("after"),
        limit: query.limit()?,
        descending: query.descending(LIST_NEWEST_FIRST)?,
    };
    let page = state
        .store
        .chat_completions
        .list(&project.0, &filter)
        .await?;
    Ok(Json(ChatCompletionList::new(page.items, page.has_more)))
}

/// Retrieves a stored completion.
#[utoipa::path(
    get, path = "/v1/chat/completions/{completion_id}", tag = "Chat",
    params(("completion_id" = String, Path, description = "The completion's id (`chatcmpl-…`)")),
    responses(
        (status = 200, description = "The stored completion", body = Object),
        (status = 401, description = "Missing or wrong API key", body = ErrorEnvelope),
        (status = 404, description = "No such stored completion in this project", body = ErrorEnvelope),
    )
)]
pub async fn get_chat_completion(
    State(state): State<AppState>,
    project: Project,
    Path(completion_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let stored = state
        .store
        .chat_completions
        .get(&project.0, &completion_id)
        .await?
        .ok_or_else(|| completion_not_found(&completion_id))?;
    Ok(Json(stored.body))
}

/// Replaces a stored completion's metadata (the only field that can change).
#[utoipa::path(
    post, path = "/v1/chat/completions/{completion_id}", tag = "Chat",
    params(("completion_id" = String, Path, description = "The completion's id (`chatcmpl-…`)")),
    request_body(content = Object, description = "`{\"metadata\": {…}}`: up to 16 string pairs, or null to clear"),
    responses(
        (status = 200, description = "The updated completion", body = Object),
        (status = 400, description = "Invalid body or metadata", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong API key", body = ErrorEnvelope),
        (status = 404, description = "No such stored completion in this project", body = ErrorEnvelope),
    )
)]
pub async fn update_chat_completion(
    State(state): State<AppState>,
    project: Project,
    Path(completion_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let metadata = parse_update(&body)?;
    let updated = state
        .store
        .chat_completions
        .update_metadata(&project.0, &completion_id, &metadata)
        .await?
        .ok_or_else(|| completion_not_found(&completion_id))?;
    Ok(Json(updated.body))
}

/// The new metadata of an update body: `metadata` is required and the only key.
fn parse_update(body: &Value) -> ApiResult<Map<String, Value>> {
    let Value::Object(fields) = body else {
        return Err(ApiError::invalid_with_code(
            "Invalid type for request body: expected an object.",
            None,
            "invalid_type",
        ));
    };
    if let Some(unknown) = fields.keys().find(|key| *key != "metadata") {
        return Err(ApiError::invalid_with_code(
            format!("Unrecognized request argument supplied: {unknown}"),
            Some(unknown.clone()),
            "unknown_parameter",
        ));
    }
    match fields.get("metadata") {
        None => Err(ApiError::invalid_with_code(
            "Missing required parameter: 'metadata'.",
            Some("metadata".to_owned()),
            "missing_required_parameter",
        )),
        Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(metadata)) => {
            validate_metadata(metadata, "metadata")?;
            Ok(metadata.clone())
        }
        Some(_) => Err(ApiError::invalid_with_code(
            "Invalid type for 'metadata': expected an object.",
            Some("metadata".to_owned()),
            "invalid_type",
        )),
    }
}

/// Deletes a stored completion.
#[utoipa::path(
    delete, path = "/v1/chat/completions/{completion_id}", tag = "Chat",
    params(("completion_id" = String, Path, description = "The completion's id (`chatcmpl-…`)")),
    responses(
        (status = 200, description = "Deleted", body = DeletedChatCompletion),
        (status = 401, description = "Missing or wrong API key", body = ErrorEnvelope),
        (status = 404, description = "No such stored completion in this project", body = ErrorEnvelope),
    )
)]
pub async fn delete_chat_completion(
    State(state): State<AppState>,
    project: Project,
    Path(completion_id): Path<String>,
) -> ApiResult<Json<DeletedChatCompletion>> {
    if !state
        .store
        .chat_completions
        .delete(&project.0, &completion_id)
        .await?
    {
        return Err(completion_not_found(&completion_id));
    }
    Ok(Json(DeletedChatCompletion {
        object: "chat.completion.deleted".to_owned(),
        id: completion_id,
        deleted: true,
    }))
}

/// Lists the request messages of a stored completion (oldest first by default).
#[utoipa::path(
    get, path = "/v1/chat/completions/{completion_id}/messages", tag = "Chat",
    params(
        ("completion_id" = String, Path, description = "The completion's id (`chatcmpl-…`)"),
        ("after" = Option<String>, Query, description = "A message id to list after"),
        ("limit" = Option<u32>, Query, description = "1 to 100, default 20"),
        ("order" = Option<String>, Query, description = "`asc` (default) or `desc`"),
    ),
    responses(
        (status = 200, description = "A page of messages", body = ChatCompletionList),
        (status = 400, description = "Invalid query", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong API key", body = ErrorEnvelope),
        (status = 404, description = "No such stored completion in this project", body = ErrorEnvelope),
    )
)]
pub async fn list_chat_completion_messages(
    State(state): State<AppState>,
    project: Project,
    Path(completion_id): Path<String>,
    query: QueryParams,
) -> ApiResult<Json<ChatCompletionList>> {
    let limit = query.limit()?;
    let descending = query.descending(false)?;
    let stored = state
        .store
        .chat_completions
        .get(&project.0, &completion_id)
        .await?
        .ok_or_else(|| completion_not_found(&completion_id))?;
    let mut items = message_items(&stored.id, &stored.messages);
    if descending {
        items.reverse();
    }
    if let Some(after) = query.get("after") {
        // An unknown `after` gives an empty page, as for the other lists.
        let start = items
            .iter()
            .position(|item| item.get("id").and_then(Value::as_str) == Some(after))
            .map_or(items.len(), |position| position + 1);
        items.drain(..start);
    }
    let has_more = items.len() > limit;
    items.truncate(limit);
    Ok(Json(ChatCompletionList::new(items, has_more)))
}
