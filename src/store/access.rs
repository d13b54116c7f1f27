//! The storage of the control plane: API keys issued through the admin API
//! (only the SHA-256 of each secret is kept), suspensions of projects and
//! keys, and the tokens each project used per UTC day. [`AccessStore`] is the
//! seam; the SQLite implementation is `store::sqlite`.

use async_trait::async_trait;

use super::error::StoreResult;

/// Keys, suspensions and token usage.
#[async_trait]
pub trait AccessStore: Send + Sync + std::fmt::Debug {
    /// Stores a new key.
    async fn insert_key(&self, key: &KeyRow) -> StoreResult<()>;

    /// The key whose secret hashes to `key_hash`.
    async fn find_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<KeyRow>>;

    /// A key by id.
    async fn get_key(&self, id: &str) -> StoreResult<Option<KeyRow>>;

    /// Every key, oldest first.
    async fn list_keys(&self) -> StoreResult<Vec<KeyRow>>;

    /// Revokes a key at `now` (a revoked key keeps its first revocation);
    /// the key as stored now, `None` when there is no such key.
    async fn revoke_key(&self, id: &str, now: i64) -> StoreResult<Option<KeyRow>>;

    /// Every suspension, as (kind, target).
    async fn suspensions(&self) -> StoreResult<Vec<(String, String)>>;

    /// Suspends a project or a key (kind `project` or `key`).
    async fn suspend(&self, kind: &str, target: &str, now: i64) -> StoreResult<()>;

    /// Lifts a suspension.
    async fn resume(&self, kind: &str, target: &str) -> StoreResult<()>;

    /// Adds tokens to a project's count for `day` (days since the Unix epoch, UTC).
    async fn add_tokens(&self, project: &str, day: i64, tokens: u64) -> StoreResult<()>;

    /// The tokens a project used on `day`.
    async fn tokens_used(&self, project: &str, day: i64) -> StoreResult<u64>;
}

/// A stored API key (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub id: String,
    pub key_hash: String,
    pub project: String,
    pub name: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
}
