//! The Conversations API's answers, as OpenAI sends them (field order included):
//! the conversation, its deletion marker, and the cursor list of items.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::wire::error::ApiError;

/// A conversation (`object: "conversation"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConversationObject {
    /// `conv_…`.
    pub id: String,
    /// Always `conversation`.
    pub object: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Up to 16 string pairs; `{}` when none were given.
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

/// `DELETE /v1/conversations/{id}`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeletedConversation {
    pub id: String,
    /// Always `conversation.deleted`.
    pub object: String,
    pub deleted: bool,
}

impl DeletedConversation {
    /// The marker for a conversation just deleted.
    pub fn new(id: String) -> Self {
        Self {
            id,
            object: "conversation.deleted".to_owned(),
            deleted: true,
        }
    }
}

/// A page of conversation items (`object: "list"`). `first_id` and `last_id`
/// are null on an empty page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConversationItemList {
    /// Always `list`.
    pub object: String,
    /// Items as stored: messages, function calls and their outputs, reasoning.
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<Value>,
    pub first_id: Option<String>,
    pub has_more: bool,
    pub last_id: Option<String>,
}

impl ConversationItemList {
    /// A list of `data`, with its first and last ids.
    pub fn new(data: Vec<Value>, has_more: bool) -> Self {
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

/// OpenAI's 404 for a conversation that does not exist in the caller's project
/// (or was deleted). The Responses engine answers it for an unknown
/// `conversation` too.
pub fn conversation_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Conversation with id '{id}' not found."))
}

/// OpenAI's 400 when a response is already running on the conversation
/// (`openai-agents` retries on this code).
pub fn conversation_locked() -> ApiError {
    ApiError::invalid_with_code(
        "Another process is currently operating on this conversation. Please retry in a few seconds.",
        Some("conversation".to_owned()),
        "conversation_locked",
    )
}

/// OpenAI's 404 for an item that is not in the conversation.
pub fn item_not_found(item_id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Item with id '{item_id}' not found in conversation."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_serialize_in_openais_field_order() {
        let conversation = ConversationObject {
            id: "conv_1".into(),
            object: "conversation".into(),
            created_at: 7,
            metadata: Map::new(),
        };
        assert_eq!(
            serde_json::to_string(&conversation).unwrap(),
            r#"{"id":"conv_1","object":"conversation","created_at":7,"metadata":{}}"#
        );
        let list =
            ConversationItemList::new(vec![json!({"id": "msg_a"}), json!({"id": "msg_b"})], false);
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"{"object":"list","data":[{"id":"msg_a"},{"id":"msg_b"}],"first_id":"msg_a","has_more":false,"last_id":"msg_b"}"#
        );
        let empty = serde_json::to_value(ConversationItemList::new(Vec::new(), false)).unwrap();
        assert_eq!(empty["first_id"], Value::Null);
    }
}
