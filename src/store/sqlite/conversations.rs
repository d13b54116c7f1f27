//! Storage of conversations and their items. Item bodies are stored as the JSON
//! the client sees (normalized, with ids and `status`), so a read is rows and no
//! re-serialization. Every query filters by project; a deleted conversation is
//! kept (with its items, as OpenAI documents) but no longer found.
//!
//! For the Responses engine: [`conversation_items`] gives the history to
//! prepend, [`try_lock`] / [`unlock`] keep two responses off one conversation,
//! [`append_items`] stores a finished turn (in the engine's transaction or not).

use serde_json::{Map, Value};
use sqlx::sqlite::SqliteRow;
use sqlx::{Acquire, QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

use crate::store::conversations::{LockOutcome, StoredConversation};
use crate::store::error::StoreResult;
use crate::wire::ids::unix_now;
use crate::wire::query::Page;

fn decode_error(error: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(error))
}

fn encode_error(error: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Encode(Box::new(error))
}

fn body_of(row: &SqliteRow) -> Result<Value, sqlx::Error> {
    serde_json::from_str(row.get::<&str, _>("body")).map_err(decode_error)
}

fn conversation_of(row: &SqliteRow) -> Result<StoredConversation, sqlx::Error> {
    Ok(StoredConversation {
        id: row.get("id"),
        created_at: row.get("created_at"),
        metadata: serde_json::from_str(row.get::<&str, _>("metadata")).map_err(decode_error)?,
    })
}

/// Creates a conversation with its first items, in one transaction.
pub async fn insert_conversation(
    pool: &SqlitePool,
    project: &str,
    conversation: &StoredConversation,
    items: &[Value],
) -> Result<(), sqlx::Error> {
    let metadata = serde_json::to_string(&conversation.metadata).map_err(encode_error)?;
    let mut transaction = pool.begin().await?;
    sqlx::query(
        "INSERT INTO conversations (id, project, created_at, metadata) VALUES (?, ?, ?, ?)",
    )
    .bind(&conversation.id)
    .bind(project)
    .bind(conversation.created_at)
    .bind(metadata)
    .execute(&mut *transaction)
    .await?;
    insert_items(&mut transaction, project, &conversation.id, items).await?;
    transaction.commit().await
}

/// A conversation of `project`, unless it does not exist or was deleted.
pub async fn get_conversation(
    pool: &SqlitePool,
    project: &str,
    id: &str,
) -> Result<Option<StoredConversation>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, created_at, metadata FROM conversations WHERE id = ? AND project = ? AND deleted = 0",
    )
    .bind(id)
    .bind(project)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(conversation_of).transpose()
}

/// Replaces a conversation's metadata; the updated conversation, if it exists.
pub async fn update_metadata(
    pool: &SqlitePool,
    project: &str,
    id: &str,
    metadata: &Map<String, Value>,
) -> Result<Option<StoredConversation>, sqlx::Error> {
    let metadata = serde_json::to_string(metadata).map_err(encode_error)?;
    let row = sqlx::query(
        "UPDATE conversations SET metadata = ? WHERE id = ? AND project = ? AND deleted = 0
         RETURNING id, created_at, metadata",
    )
    .bind(metadata)
    .bind(id)
    .bind(project)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(conversation_of).transpose()
}

/// Marks a conversation deleted (its items are kept); false when it did not
/// exist in `project` or was already deleted.
pub async fn delete_conversation(
    pool: &SqlitePool,
    project: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE conversations SET deleted = 1, locked_by = NULL WHERE id = ? AND project = ? AND deleted = 0",
    )
    .bind(id)
    .bind(project)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Every item of a conversation, oldest first; `None` when the conversation does
/// not exist in `project` (or was deleted). The Responses engine prepends these
/// to a request's input when it names the conversation.
pub async fn conversation_items(
    pool: &SqlitePool,
    project: &str,
    conversation_id: &str,
) -> Result<Option<Vec<Value>>, sqlx::Error> {
    if get_conversation(pool, project, conversation_id)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let rows = sqlx::query(
        "SELECT body FROM conversation_items WHERE conversation_id = ? AND project = ? ORDER BY position",
    )
    .bind(conversation_id)
    .bind(project)
    .fetch_all(pool)
    .await?;
    rows.iter().map(body_of).collect::<Result<_, _>>().map(Some)
}

/// Appends items (each with its `id`) to the end of a conversation, all or none.
/// Works on a pool or inside the caller's transaction (then as a savepoint), so
/// the engine can store a finished turn together with the response. Returns
/// false, appending nothing, when the conversation does not exist in `project`.
pub async fn append_items<'c, A>(
    executor: A,
    project: &str,
    conversation_id: &str,
    items: &[Value],
) -> Result<bool, sqlx::Error>
where
    A: Acquire<'c, Database = Sqlite>,
{
    let mut transaction = executor.begin().await?;
    if !insert_items(&mut transaction, project, conversation_id, items).await? {
        return Ok(false);
    }
    transaction.commit().await?;
    Ok(true)
}

/// Inserts items after the conversation's last one. Each statement checks the
/// conversation (same project, not deleted) and takes the next position itself,
/// so the first one also takes SQLite's write lock before anything is read.
async fn insert_items(
    connection: &mut SqliteConnection,
    project: &str,
    conversation_id: &str,
    items: &[Value],
) -> Result<bool, sqlx::Error> {
    let now = unix_now();
    for item in items {
        let item_id = item.get("id").and_then(Value::as_str).unwrap_or_default();
        let result = sqlx::query(
            "INSERT INTO conversation_items (conversation_id, project, position, item_id, created_at, body)
             SELECT c.id, c.project,
                    COALESCE((SELECT MAX(i.position) FROM conversation_items i WHERE i.conversation_id = c.id), -1) + 1,
                    ?, ?, ?
             FROM conversations c WHERE c.id = ? AND c.project = ? AND c.deleted = 0",
        )
        .bind(item_id)
        .bind(now)
        .bind(item.to_string())
        .bind(conversation_id)
        .bind(project)
        .execute(&mut *connection)
        .await?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// One page of a conversation's items, in `descending` (OpenAI's default) or
/// ascending order, starting after the item `after` (an unknown `after` gives an
/// empty page, as for response input items). The caller checks the conversation.
pub async fn list_items(
    pool: &SqlitePool,
    project: &str,
    conversation_id: &str,
    after: Option<&str>,
    limit: usize,
    descending: bool,
) -> Result<Page<Value>, sqlx::Error> {
    let mut query: QueryBuilder<Sqlite> =
        QueryBuilder::new("SELECT body FROM conversation_items WHERE conversation_id = ");
    query.push_bind(conversation_id);
    query.push(" AND project = ");
    query.push_bind(project);
    if let Some(after) = after {
        query.push(if descending {
            " AND position < "
        } else {
            " AND position > "
        });
        query.push("(SELECT MAX(position) FROM conversation_items WHERE conversation_id = ");
        query.push_bind(conversation_id);
        query.push(" AND item_id = ");
        query.push_bind(after);
        query.push(")");
    }
    query.push(if descending {
        " ORDER BY position DESC LIMIT "
    } else {
        " ORDER BY position ASC LIMIT "
    });
    query.push_bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX));
    let rows = query.build().fetch_all(pool).await?;
    let mut items: Vec<Value> = rows.iter().map(body_of).collect::<Result<_, _>>()?;
    let has_more = items.len() > limit;
    items.truncate(limit);
    Ok(Page { items, has_more })
}

/// One item of a conversation (the latest, should an id occur twice).
pub async fn get_item(
    pool: &SqlitePool,
    project: &str,
    conversation_id: &str,
    item_id: &str,
) -> Result<Option<Value>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT body FROM conversation_items WHERE conversation_id = ? AND project = ? AND item_id = ?
         ORDER BY position DESC LIMIT 1",
    )
    .bind(conversation_id)
    .bind(project)
    .bind(item_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(body_of).transpose()
}

/// Removes an item from a conversation; false when it was not there.
pub async fn delete_item(
    pool: &SqlitePool,
    project: &str,
    conversation_id: &str,
    item_id: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "DELETE FROM conversation_items WHERE conversation_id = ? AND project = ? AND item_id = ?",
    )
    .bind(conversation_id)
    .bind(project)
    .bind(item_id)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// The most recent conversation item with this id in `project`, for an
/// `item_reference` that no stored response holds. Items of deleted
/// conversations count: deleting a conversation does not delete its items.
pub async fn find_item(
    pool: &SqlitePool,
    project: &str,
    item_id: &str,
) -> Result<Option<Value>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT body FROM conversation_items WHERE project = ? AND item_id = ?
         ORDER BY created_at DESC, rowid DESC LIMIT 1",
    )
    .bind(project)
    .bind(item_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(body_of).transpose()
}

/// Marks a conversation busy with `response_id`, unless another response holds
/// it. Taking it again with the same response id succeeds. Durable: a crash
/// leaves the mark, which [`clear_all_locks`] removes at start-up.
pub async fn try_lock(
    pool: &SqlitePool,
    project: &str,
    conversation_id: &str,
    response_id: &str,
) -> Result<LockOutcome, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE conversations SET locked_by = ?1
         WHERE id = ?2 AND project = ?3 AND deleted = 0 AND (locked_by IS NULL OR locked_by = ?1)",
    )
    .bind(response_id)
    .bind(conversation_id)
    .bind(project)
    .execute(pool)
    .await?;
    if result.rows_affected() > 0 {
        return Ok(LockOutcome::Locked);
    }
    Ok(
        match get_conversation(pool, project, conversation_id).await? {
            Some(_) => LockOutcome::Busy,
            None => LockOutcome::NotFound,
        },
    )
}

/// Releases the mark [`try_lock`] set, if `response_id` still holds it.
pub async fn unlock(
    pool: &SqlitePool,
    project: &str,
    conversation_id: &str,
    response_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE conversations SET locked_by = NULL WHERE id = ? AND project = ? AND locked_by = ?",
    )
    .bind(conversation_id)
    .bind(project)
    .bind(response_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Releases every conversation. Call once at start-up: no response runs yet, so
/// every mark left is from a process that ended mid-response.
pub async fn clear_all_locks(pool: &SqlitePool) -> Result<u64, sqlx::Error> {
    let result =
        sqlx::query("UPDATE conversations SET locked_by = NULL WHERE locked_by IS NOT NULL")
            .execute(pool)
            .await?;
    Ok(result.rows_affected())
}

#[async_trait::async_trait]
impl crate::store::conversations::ConversationStore for super::SqliteStore {
    async fn insert_conversation(
        &self,
        project: &str,
        conversation: &StoredConversation,
        items: &[Value],
    ) -> StoreResult<()> {
        Ok(insert_conversation(self.db.pool(), project, conversation, items).await?)
    }

    async fn get_conversation(
        &self,
        project: &str,
        id: &str,
    ) -> StoreResult<Option<StoredConversation>> {
        Ok(get_conversation(self.db.pool(), project, id).await?)
    }

    async fn update_metadata(
        &self,
        project: &str,
        id: &str,
        metadata: &Map<String, Value>,
    ) -> StoreResult<Option<StoredConversation>> {
        Ok(update_metadata(self.db.pool(), project, id, metadata).await?)
    }

    async fn delete_conversation(&self, project: &str, id: &str) -> StoreResult<bool> {
        Ok(delete_conversation(self.db.pool(), project, id).await?)
    }

    async fn conversation_items(
        &self,
        project: &str,
        conversation_id: &str,
    ) -> StoreResult<Option<Vec<Value>>> {
        Ok(conversation_items(self.db.pool(), project, conversation_id).await?)
    }

    async fn append_items(
        &self,
        project: &str,
        conversation_id: &str,
        items: &[Value],
    ) -> StoreResult<bool> {
        Ok(append_items(self.db.pool(), project, conversation_id, items).await?)
    }

    async fn list_items(
        &self,
        project: &str,
        conversation_id: &str,
        after: Option<&str>,
        limit: usize,
        descending: bool,
    ) -> StoreResult<Page<Value>> {
        Ok(list_items(
            self.db.pool(),
            project,
            conversation_id,
            after,
            limit,
            descending,
        )
        .await?)
    }

    async fn get_item(
        &self,
        project: &str,
        conversation_id: &str,
        item_id: &str,
    ) -> StoreResult<Option<Value>> {
        Ok(get_item(self.db.pool(), project, conversation_id, item_id).await?)
    }

    async fn delete_item(
        &self,
        project: &str,
        conversation_id: &str,
        item_id: &str,
    ) -> StoreResult<bool> {
        Ok(delete_item(self.db.pool(), project, conversation_id, item_id).await?)
    }

    async fn find_item(&self, project: &str, item_id: &str) -> StoreResult<Option<Value>> {
        Ok(find_item(self.db.pool(), project, item_id).await?)
    }

    async fn try_lock(
        &self,
        project: &str,
        conversation_id: &str,
        response_id: &str,
    ) -> StoreResult<LockOutcome> {
        Ok(try_lock(self.db.pool(), project, conversation_id, response_id).await?)
    }

    async fn unlock(
        &self,
        project: &str,
        conversation_id: &str,
        response_id: &str,
    ) -> StoreResult<()> {
        Ok(unlock(self.db.pool(), project, conversation_id, response_id).await?)
    }

    async fn clear_all_locks(&self) -> StoreResult<u64> {
        Ok(clear_all_locks(self.db.pool()).await?)
    }
}
