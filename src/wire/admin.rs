//! Wire types of the admin API (`/admin/...`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::wire::error::ApiError;

/// `POST /admin/keys`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// The project the key's requests act in (and whose objects it sees).
    pub project: String,
    /// A label for people.
    #[serde(default)]
    pub name: Option<String>,
    /// Requests per minute; absent: unlimited.
    #[serde(default, deserialize_with = "crate::wire::json::optional_count")]
    pub requests_per_minute: Option<u64>,
    /// Tokens per minute (counted when responses finish); absent: unlimited.
    #[serde(default, deserialize_with = "crate::wire::json::optional_count")]
    pub tokens_per_minute: Option<u64>,
}

/// What the kill switch stopped.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct Cancelled {
    /// HTTP requests being answered (chat completions, embeddings, streams…).
    pub requests: usize,
    /// Responses, foreground and background.
    pub responses: usize,
    /// Assistants runs.
    pub runs: usize,
}

/// An API key as the admin API shows it: never its secret, except `key` in
/// the answer that created it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyObject {
    /// Always `api_key`.
    pub object: &'static str,
    /// `key_…` for issued keys, `cfgkey_…` for keys from the config file.
    pub id: String,
    pub project: String,
    pub name: Option<String>,
    /// Unix seconds; null for config keys.
    pub created_at: Option<i64>,
    pub revoked: bool,
    pub suspended: bool,
    /// `admin` (issued here) or `config`.
    pub source: &'static str,
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
    /// The secret: only in the answer to `POST /admin/keys`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Only in the answer to a suspension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<Cancelled>,
}

/// `GET /admin/keys`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyList {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<KeyObject>,
}

/// A project as the admin API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectObject {
    /// Always `project`.
    pub object: &'static str,
    pub name: String,
    pub suspended: bool,
    /// From the config's `[[projects]]`; null: no budget.
    pub daily_token_budget: Option<u64>,
    /// Tokens counted today (UTC).
    pub tokens_used_today: u64,
    /// Only in the answer to a suspension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<Cancelled>,
}

/// OpenAI-style 404 for an unknown key id.
pub fn key_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("No API key found with id '{id}'."))
}
