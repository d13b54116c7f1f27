//! The thread and message objects as OpenAI sends them (field order included).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::wire::assistants::shared::HasId;

/// A thread (`object: "thread"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ThreadObject {
    /// `thread_…`.
    pub id: String,
    /// Always `thread`.
    pub object: String,
    pub created_at: i64,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Always `{}`: Portico keeps no files or vector stores.
    #[schema(value_type = Object)]
    pub tool_resources: Value,
}

/// A message of a thread (`object: "thread.message"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageObject {
    /// `msg_…`.
    pub id: String,
    /// Always `thread.message`.
    pub object: String,
    pub created_at: i64,
    /// The assistant whose run wrote it (null for user messages).
    pub assistant_id: Option<String>,
    pub thread_id: String,
    /// The run that wrote it (null for messages added by the client).
    pub run_id: Option<String>,
    /// `in_progress`, `incomplete` or `completed`.
    pub status: String,
    /// `{reason: max_tokens | run_cancelled | run_expired | run_failed | content_filter}` or null.
    #[schema(value_type = Option<Object>)]
    pub incomplete_details: Option<Value>,
    pub incomplete_at: Option<i64>,
    pub completed_at: Option<i64>,
    /// `user` or `assistant`.
    pub role: String,
    /// Content parts: `{type: "text", text: {value, annotations}}`, `image_url`.
    #[schema(value_type = Vec<Object>)]
    pub content: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub attachments: Vec<Value>,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

impl HasId for ThreadObject {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for MessageObject {
    fn id(&self) -> &str {
        &self.id
    }
}

impl ThreadObject {
    /// The thread as OpenAI shows it when retrieved and in `thread.created`:
    /// with the code interpreter's (empty) file list in `tool_resources`.
    pub fn as_retrieved(&self) -> Self {
        let mut thread = self.clone();
        if thread
            .tool_resources
            .as_object()
            .is_some_and(serde_json::Map::is_empty)
        {
            thread.tool_resources = serde_json::json!({"code_interpreter": {"file_ids": []}});
        }
        thread
    }
}

impl MessageObject {
    /// The message's text: its text parts, concatenated.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|part| part.pointer("/text/value").and_then(Value::as_str))
            .collect()
    }
}
