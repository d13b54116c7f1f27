//! Conversations, their items and the response that holds each, in PostgreSQL.

use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::{now, PostgresStore};
use crate::store::conversations::{ConversationStore, LockOutcome, StoredConversation};
use crate::store::error::StoreResult;
use crate::wire::query::Page;

fn conversation_of(row: &PgRow) -> StoreResult<StoredConversation> {
    Ok(StoredConversation {
        id: row.get("id"),
        created_at: row.get("created_at"),
        metadata: serde_json::from_str(row.get::<&str, _>("metadata"))?,
    })
}

fn body_of(row: &PgRow) -> StoreResult<Value> {
    Ok(serde_json::from_str(row.get::<&str, _>("body"))?)
}

/// Appends items after the conversation's last one, in `transaction`, with
/// the conversation's row locked (two appends never take one position);
/// false when the conversation does not exist in `project`.
async fn insert_items(
    transaction: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    project: &str,
    conversation_id: &str,
    items: &[Value],
) -> StoreResult<bool> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT id FROM conversations WHERE id = $1 AND project = $2 AND NOT deleted FOR UPDATE",
    )
    .bind(conversation_id)
    .bind(project)
    .fetch_optional(&mut **transaction)
    .await?;
    if found.is_none() {
        return Ok(false);
    }
    let last: Option<i32> = sqlx::query_scalar(
        "SELECT MAX(position) FROM conversation_items WHERE conversation_id = $1",
    )
    .bind(conversation_id)
    .fetch_one(&mut **transaction)
    .await?;
    let created_at = now();
    for (offset, item) in items.iter().enumerate() {
        sqlx::query(
            "INSERT INTO conversation_items (conversation_id, project, position, item_id, created_at, body)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(conversation_id)
        .bind(project)
        .bind(last.unwrap_or(-1) + 1 + offset as i32)
        .bind(item.get("id").and_then(Value::as_str).unwrap_or_default())
        .bind(created_at)
        .bind(item.to_string())
        .execute(&mut **transaction)
        .await?;
    }
    Ok(true)
}

#[async_trait]
impl ConversationStore for PostgresStore {
    async fn insert_conversation(
        &self,
        project: &str,
        conversation: &StoredConversation,
        items: &[Value],
    ) -> StoreResult<()> {
        let mut transaction = super::begin(&self.pool).await?;
        sqlx::query(
            "INSERT INTO conversations (id, project, created_at, metadata) VALUES ($1, $2, $3, $4)",
        )
        .bind(&conversation.id)
        .bind(project)
        .bind(conversation.created_at)
        .bind(serde_json::to_string(&conversation.metadata)?)
        .execute(&mut *transaction)
        .await?;
        insert_items(&mut transaction, project, &conversation.id, items).await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn get_conversation(
        &self,
        project: &str,
        id: &str,
    ) -> StoreResult<Option<StoredConversation>> {
        let row = sqlx::query(
            "SELECT id, created_at, metadata FROM conversations WHERE id = $1 AND project = $2 AND NOT deleted",
        )
        .bind(id)
        .bind(project)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(conversation_of).transpose()
    }

    async fn update_metadata(
        &self,
        project: &str,
        id: &str,
        metadata: &Map<String, Value>,
    ) -> StoreResult<Option<StoredConversation>> {
        let row = sqlx::query(
            "UPDATE conversations SET metadata = $1 WHERE id = $2 AND project = $3 AND NOT deleted
             RETURNING id, created_at, metadata",
        )
        .bind(serde_json::to_string(metadata)?)
        .bind(id)
        .bind(project)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(conversation_of).transpose()
    }

    async fn delete_conversation(&self, project: &str, id: &str) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE conversations SET deleted = TRUE, locked_by = NULL
             WHERE id = $1 AND project = $2 AND NOT deleted",
        )
        .bind(id)
        .bind(project)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn conversation_items(
        &self,
        project: &str,
        conversation_id: &str,
    ) -> StoreResult<Option<Vec<Value>>> {
        if self
            .get_conversation(project, conversation_id)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT body FROM conversation_items WHERE conversation_id = $1 AND project = $2 ORDER BY position",
        )
        .bind(conversation_id)
        .bind(project)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(body_of)
            .collect::<StoreResult<_>>()
            .map(Some)
    }

    async fn append_items(
        &self,
        project: &str,
        conversation_id: &str,
        items: &[Value],
    ) -> StoreResult<bool> {
        let mut transaction = super::begin(&self.pool).await?;
        if !insert_items(&mut transaction, project, conversation_id, items).await? {
            return Ok(false);
        }
        transaction.commit().await?;
        Ok(true)
    }

    async fn list_items(
        &self,
        project: &str,
        conversation_id: &str,
        after: Option<&str>,
        limit: usize,
        descending: bool,
    ) -> StoreResult<Page<Value>> {
        let (comparison, order) = if descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let cursor = if after.is_some() {
            format!(
                " AND position {comparison} (SELECT MAX(position) FROM conversation_items
                                             WHERE conversation_id = $1 AND item_id = $3)"
            )
        } else {
            " AND $3::TEXT IS NULL".to_owned()
        };
        let sql = format!(
            "SELECT body FROM conversation_items WHERE conversation_id = $1 AND project = $2{cursor}
             ORDER BY position {order} LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(conversation_id)
            .bind(project)
            .bind(after)
            .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        let mut items: Vec<Value> = rows.iter().map(body_of).collect::<StoreResult<_>>()?;
        let has_more = items.len() > limit;
        items.truncate(limit);
        Ok(Page { items, has_more })
    }

    async fn get_item(
        &self,
        project: &str,
        conversation_id: &str,
        item_id: &str,
    ) -> StoreResult<Option<Value>> {
        let row = sqlx::query(
            "SELECT body FROM conversation_items WHERE conversation_id = $1 AND project = $2 AND item_id = $3
             ORDER BY position DESC LIMIT 1",
        )
        .bind(conversation_id)
        .bind(project)
        .bind(item_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(body_of).transpose()
    }

    async fn delete_item(
        &self,
        project: &str,
        conversation_id: &str,
        item_id: &str,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "DELETE FROM conversation_items WHERE conversation_id = $1 AND project = $2 AND item_id = $3",
        )
        .bind(conversation_id)
        .bind(project)
        .bind(item_id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn find_item(&self, project: &str, item_id: &str) -> StoreResult<Option<Value>> {
        let row = sqlx::query(
            "SELECT body FROM conversation_items WHERE project = $1 AND item_id = $2
             ORDER BY created_at DESC, seq DESC LIMIT 1",
        )
        .bind(project)
        .bind(item_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(body_of).transpose()
    }

    async fn try_lock(
        &self,
        project: &str,
        conversation_id: &str,
        response_id: &str,
    ) -> StoreResult<LockOutcome> {
        let result = sqlx::query(
            "UPDATE conversations SET locked_by = $1, locked_at = $4
             WHERE id = $2 AND project = $3 AND NOT deleted AND (locked_by IS NULL OR locked_by = $1)",
        )
        .bind(response_id)
        .bind(conversation_id)
        .bind(project)
        .bind(super::now())
        .execute(&self.pool)
        .await?;
        if result.rows_affected() > 0 {
            return Ok(LockOutcome::Locked);
        }
        Ok(
            match self.get_conversation(project, conversation_id).await? {
                Some(_) => LockOutcome::Busy,
                None => LockOutcome::NotFound,
            },
        )
    }

    async fn unlock(
        &self,
        project: &str,
        conversation_id: &str,
        response_id: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE conversations SET locked_by = NULL WHERE id = $1 AND project = $2 AND locked_by = $3",
        )
        .bind(conversation_id)
        .bind(project)
        .bind(response_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn clear_all_locks(&self) -> StoreResult<u64> {
        let result =
            sqlx::query("UPDATE conversations SET locked_by = NULL WHERE locked_by IS NOT NULL")
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected())
    }
}
