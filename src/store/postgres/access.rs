//! Keys, suspensions and token usage in PostgreSQL.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::signals::notify;
use super::PostgresStore;
use crate::store::access::{AccessStore, KeyRow};
use crate::store::error::StoreResult;
use crate::store::shared::Signal;

const KEY_COLUMNS: &str =
    "id, key_hash, project, name, created_at, revoked_at, requests_per_minute, tokens_per_minute";

fn key_row(row: &PgRow) -> KeyRow {
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

#[async_trait]
impl AccessStore for PostgresStore {
    async fn insert_key(&self, key: &KeyRow) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&key.id)
        .bind(&key.key_hash)
        .bind(&key.project)
        .bind(&key.name)
        .bind(key.created_at)
        .bind(key.revoked_at)
        .bind(as_i64(key.requests_per_minute))
        .bind(as_i64(key.tokens_per_minute))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<KeyRow>> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"
        ))
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(key_row))
    }

    async fn get_key(&self, id: &str) -> StoreResult<Option<KeyRow>> {
        let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(key_row))
    }

    async fn list_keys(&self) -> StoreResult<Vec<KeyRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(key_row).collect())
    }

    async fn revoke_key(&self, id: &str, now: i64) -> StoreResult<Option<KeyRow>> {
        let mut transaction = super::begin(&self.pool).await?;
        let revoked: Option<String> = sqlx::query_scalar(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL
             RETURNING key_hash",
        )
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *transaction)
        .await?;
        if let Some(key_hash) = revoked {
            notify(&mut *transaction, &Signal::KeyRevoked(key_hash)).await?;
        }
        transaction.commit().await?;
        self.get_key(id).await
    }

    async fn suspensions(&self) -> StoreResult<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT kind, target FROM suspensions ORDER BY suspended_at")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|row| (row.get("kind"), row.get("target")))
            .collect())
    }

    async fn suspend(&self, kind: &str, target: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO suspensions (kind, target, suspended_at) VALUES ($1, $2, $3)
             ON CONFLICT (kind, target) DO NOTHING",
        )
        .bind(kind)
        .bind(target)
        .bind(now)
        .execute(&self.pool)
        .await?;
        notify(&self.pool, &Signal::Suspensions).await
    }

    async fn resume(&self, kind: &str, target: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM suspensions WHERE kind = $1 AND target = $2")
            .bind(kind)
            .bind(target)
            .execute(&self.pool)
            .await?;
        notify(&self.pool, &Signal::Suspensions).await
    }

    async fn add_tokens(&self, project: &str, day: i64, tokens: u64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO token_usage (project, day, tokens) VALUES ($1, $2, $3)
             ON CONFLICT (project, day) DO UPDATE SET tokens = token_usage.tokens + excluded.tokens",
        )
        .bind(project)
        .bind(day)
        .bind(i64::try_from(tokens).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn tokens_used(&self, project: &str, day: i64) -> StoreResult<u64> {
        let tokens: Option<i64> =
            sqlx::query_scalar("SELECT tokens FROM token_usage WHERE project = $1 AND day = $2")
                .bind(project)
                .bind(day)
                .fetch_optional(&self.pool)
                .await?;
        Ok(tokens
            .and_then(|tokens| u64::try_from(tokens).ok())
            .unwrap_or(0))
    }
}
