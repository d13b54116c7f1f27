//! Storage of the control plane: API keys issued through the admin API (only
//! the SHA-256 of each secret is kept), suspensions of projects and keys, the
//! tokens each project used per UTC day.

use sqlx::{Row, SqlitePool};

use crate::store::access::KeyRow;
use crate::store::error::StoreResult;

/// `SELECT <every key column> FROM api_keys <rest>`, as one literal.
macro_rules! select_keys {
    ($rest:literal) => {
        concat!(
            "SELECT id, key_hash, project, name, created_at, revoked_at, requests_per_minute, tokens_per_minute FROM api_keys ",
            $rest
        )
    };
}

fn key_row(row: &sqlx::sqlite::SqliteRow) -> KeyRow {
    let limit = |name: &str| {
        row.get::<Option<i64>, _>(name)
            .and_then(|value| u64::try_from(value).ok())
    };
    KeyRow {
        id: row.get("id"),
        key_hash: row.get("key_hash"),
        project: row.get("project"),
        name: row.get("name"),
        created_at: row.get("created_at"),
        revoked_at: row.get("revoked_at"),
        requests_per_minute: limit("requests_per_minute"),
        tokens_per_minute: limit("tokens_per_minute"),
    }
}

fn as_i64(value: Option<u64>) -> Option<i64> {
    value.map(|value| i64::try_from(value).unwrap_or(i64::MAX))
}

/// Stores a new key.
pub async fn insert_key(pool: &SqlitePool, key: &KeyRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO api_keys (id, key_hash, project, name, created_at, revoked_at, requests_per_minute, tokens_per_minute)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&key.id)
    .bind(&key.key_hash)
    .bind(&key.project)
    .bind(&key.name)
    .bind(key.created_at)
    .bind(key.revoked_at)
    .bind(as_i64(key.requests_per_minute))
    .bind(as_i64(key.tokens_per_minute))
    .execute(pool)
    .await?;
    Ok(())
}

/// The key whose secret hashes to `key_hash`, revoked or not.
pub async fn find_by_hash(
    pool: &SqlitePool,
    key_hash: &str,
) -> Result<Option<KeyRow>, sqlx::Error> {
    let row = sqlx::query(select_keys!("WHERE key_hash = ?"))
        .bind(key_hash)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(key_row))
}

/// The key with this id, revoked or not.
pub async fn get_key(pool: &SqlitePool, id: &str) -> Result<Option<KeyRow>, sqlx::Error> {
    let row = sqlx::query(select_keys!("WHERE id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(key_row))
}

/// Every stored key, oldest first.
pub async fn list_keys(pool: &SqlitePool) -> Result<Vec<KeyRow>, sqlx::Error> {
    let rows = sqlx::query(select_keys!("ORDER BY created_at, id"))
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(key_row).collect())
}

/// Revokes a key (once: a second revoke keeps the first time) and returns it.
pub async fn revoke_key(
    pool: &SqlitePool,
    id: &str,
    now: i64,
) -> Result<Option<KeyRow>, sqlx::Error> {
    sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    get_key(pool, id).await
}

/// Every suspension, as (kind, target).
pub async fn suspensions(pool: &SqlitePool) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query("SELECT kind, target FROM suspensions")
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .map(|row| (row.get("kind"), row.get("target")))
        .collect())
}

/// Records a suspension (`kind`: `project` or `key`).
pub async fn suspend(
    pool: &SqlitePool,
    kind: &str,
    target: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT OR IGNORE INTO suspensions (kind, target, suspended_at) VALUES (?, ?, ?)")
        .bind(kind)
        .bind(target)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// Lifts a suspension.
pub async fn resume(pool: &SqlitePool, kind: &str, target: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM suspensions WHERE kind = ? AND target = ?")
        .bind(kind)
        .bind(target)
        .execute(pool)
        .await?;
    Ok(())
}

/// Adds tokens to a project's count for `day` (days since the Unix epoch, UTC).
pub async fn add_tokens(
    pool: &SqlitePool,
    project: &str,
    day: i64,
    tokens: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO token_usage (project, day, tokens) VALUES (?, ?, ?)
         ON CONFLICT (project, day) DO UPDATE SET tokens = tokens + excluded.tokens",
    )
    .bind(project)
    .bind(day)
    .bind(i64::try_from(tokens).unwrap_or(i64::MAX))
    .execute(pool)
    .await?;
    Ok(())
}

/// The tokens a project used on `day`.
pub async fn tokens_used(pool: &SqlitePool, project: &str, day: i64) -> Result<u64, sqlx::Error> {
    let tokens: Option<i64> =
        sqlx::query_scalar("SELECT tokens FROM token_usage WHERE project = ? AND day = ?")
            .bind(project)
            .bind(day)
            .fetch_optional(pool)
            .await?;
    Ok(tokens
        .and_then(|tokens| u64::try_from(tokens).ok())
        .unwrap_or(0))
}

#[async_trait::async_trait]
impl crate::store::access::AccessStore for super::SqliteStore {
    async fn insert_key(&self, key: &KeyRow) -> StoreResult<()> {
        Ok(insert_key(self.db.pool(), key).await?)
    }

    async fn find_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<KeyRow>> {
        Ok(find_by_hash(self.db.pool(), key_hash).await?)
    }

    async fn get_key(&self, id: &str) -> StoreResult<Option<KeyRow>> {
        Ok(get_key(self.db.pool(), id).await?)
    }

    async fn list_keys(&self) -> StoreResult<Vec<KeyRow>> {
        Ok(list_keys(self.db.pool()).await?)
    }

    async fn revoke_key(&self, id: &str, now: i64) -> StoreResult<Option<KeyRow>> {
        Ok(revoke_key(self.db.pool(), id, now).await?)
    }

    async fn suspensions(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(suspensions(self.db.pool()).await?)
    }

    async fn suspend(&self, kind: &str, target: &str, now: i64) -> StoreResult<()> {
        Ok(suspend(self.db.pool(), kind, target, now).await?)
    }

    async fn resume(&self, kind: &str, target: &str) -> StoreResult<()> {
        Ok(resume(self.db.pool(), kind, target).await?)
    }

    async fn add_tokens(&self, project: &str, day: i64, tokens: u64) -> StoreResult<()> {
        Ok(add_tokens(self.db.pool(), project, day, tokens).await?)
    }

    async fn tokens_used(&self, project: &str, day: i64) -> StoreResult<u64> {
        Ok(tokens_used(self.db.pool(), project, day).await?)
    }
}
