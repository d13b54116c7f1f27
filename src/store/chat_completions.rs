//! The storage of chat completions made with `store: true`.
//! [`ChatCompletionStore`] is the seam; the SQLite implementation is
//! `store::sqlite`. Every read filters by project: another project's
//! completion is not found, like one that never existed.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::error::StoreResult;
use crate::wire::query::Page;

/// Stored chat completions.
#[async_trait]
pub trait ChatCompletionStore: Send + Sync + std::fmt::Debug {
    /// Stores a completion.
    async fn insert(&self, project: &str, completion: &StoredChatCompletion) -> StoreResult<()>;

    /// A completion of `project`.
    async fn get(&self, project: &str, id: &str) -> StoreResult<Option<StoredChatCompletion>>;

    /// Replaces a completion's metadata; the updated completion, if it exists.
    async fn update_metadata(
        &self,
        project: &str,
        id: &str,
        metadata: &Map<String, Value>,
    ) -> StoreResult<Option<StoredChatCompletion>>;

    /// Deletes a completion; false when it did not exist in `project`.
    async fn delete(&self, project: &str, id: &str) -> StoreResult<bool>;

    /// A page of completion bodies.
    async fn list(&self, project: &str, filter: &ListFilter<'_>) -> StoreResult<Page<Value>>;
}

/// A stored completion.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChatCompletion {
    pub id: String,
    pub created_at: i64,
    /// The model the request named.
    pub requested_model: String,
    /// The model the answer named.
    pub model: String,
    pub metadata: Map<String, Value>,
    /// The request's messages, as sent.
    pub messages: Vec<Value>,
    /// The completion as retrieved, `metadata` included.
    pub body: Value,
}

/// What a list asks for.
#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    /// Only completions of this model (requested or answered).
    pub model: Option<&'a str>,
    /// Only completions whose metadata has every one of these pairs.
    pub metadata: Vec<(String, String)>,
    /// Start after this completion (an unknown id gives an empty page).
    pub after: Option<&'a str>,
    pub limit: usize,
    pub descending: bool,
}
