//! The storage of conversations and their items, and the mark that keeps two
//! responses off one conversation. [`ConversationStore`] is the seam; the
//! SQLite implementation is `store::sqlite`.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::error::StoreResult;
use crate::wire::conversations::object::ConversationObject;
use crate::wire::query::Page;

/// Conversations and their items.
#[async_trait]
pub trait ConversationStore: Send + Sync + std::fmt::Debug {
    /// Creates a conversation with its first items, all or nothing.
    async fn insert_conversation(
        &self,
        project: &str,
        conversation: &StoredConversation,
        items: &[Value],
    ) -> StoreResult<()>;

    /// A conversation of `project`, unless it does not exist or was deleted.
    async fn get_conversation(
        &self,
        project: &str,
        id: &str,
    ) -> StoreResult<Option<StoredConversation>>;

    /// Replaces a conversation's metadata; the updated conversation, if it exists.
    async fn update_metadata(
        &self,
        project: &str,
        id: &str,
        metadata: &Map<String, Value>,
    ) -> StoreResult<Option<StoredConversation>>;

    /// Marks a conversation deleted (its items are kept, as OpenAI documents);
    /// false when it did not exist in `project` or was already deleted.
    async fn delete_conversation(&self, project: &str, id: &str) -> StoreResult<bool>;

    /// Every item of a conversation, oldest first; `None` when it does not
    /// exist in `project` (or was deleted).
    async fn conversation_items(
        &self,
        project: &str,
        conversation_id: &str,
    ) -> StoreResult<Option<Vec<Value>>>;

    /// Appends items (each with its `id`) to the end of a conversation, all or
    /// none; false, appending nothing, when it does not exist in `project`.
    async fn append_items(
        &self,
        project: &str,
        conversation_id: &str,
        items: &[Value],
    ) -> StoreResult<bool>;

    /// One page of a conversation's items, `descending` (OpenAI's default) or
    /// ascending, after the item `after` (an unknown one gives an empty page).
    async fn list_items(
        &self,
        project: &str,
        conversation_id: &str,
        after: Option<&str>,
        limit: usize,
        descending: bool,
    ) -> StoreResult<Page<Value>>;

    /// One item of a conversation.
    async fn get_item(
        &self,
        project: &str,
        conversation_id: &str,
        item_id: &str,
    ) -> StoreResult<Option<Value>>;

    /// Deletes an item; false when it was not there.
    async fn delete_item(
        &self,
        project: &str,
        conversation_id: &str,
        item_id: &str,
    ) -> StoreResult<bool>;

    /// The most recent item with this id in any conversation of `project`
    /// (deleted conversations included), for `item_reference`.
    async fn find_item(&self, project: &str, item_id: &str) -> StoreResult<Option<Value>>;

    /// Marks a conversation busy with `response_id` unless another response
    /// holds it (taking it again with the same id succeeds). Durable.
    async fn try_lock(
        &self,
        project: &str,
        conversation_id: &str,
        response_id: &str,
    ) -> StoreResult<LockOutcome>;

    /// Releases the mark [`try_lock`](Self::try_lock) set, if `response_id` still holds it.
    async fn unlock(
        &self,
        project: &str,
        conversation_id: &str,
        response_id: &str,
    ) -> StoreResult<()>;

    /// Releases every conversation (start-up of the only process: every mark
    /// left is from a process that ended mid-response); how many.
    async fn clear_all_locks(&self) -> StoreResult<u64>;
}

/// A conversation as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredConversation {
    pub id: String,
    pub created_at: i64,
    pub metadata: Map<String, Value>,
}

/// What [`ConversationStore::try_lock`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockOutcome {
    /// The conversation is now held by the caller's response.
    Locked,
    /// Another response holds it: answer OpenAI's `conversation_locked` 400.
    Busy,
    /// No such conversation in the project (or it was deleted).
    NotFound,
}

impl From<StoredConversation> for ConversationObject {
    fn from(stored: StoredConversation) -> Self {
        Self {
            id: stored.id,
            object: "conversation".to_owned(),
            created_at: stored.created_at,
            metadata: stored.metadata,
        }
    }
}
