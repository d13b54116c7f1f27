//! Storage of chat completions made with `store: true`. A row holds the
//! completion as the retrieve endpoint shows it (`body`), the request's messages
//! and the metadata, which is the only thing that changes: reads put the current
//! metadata into the body. Every query filters by project; another project's
//! completion is not found, like one that never existed.

use serde_json::{Map, Value};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use crate::store::chat_completions::{ListFilter, StoredChatCompletion};
use crate::store::error::StoreResult;
use crate::wire::query::Page;

fn decode_error(error: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(error))
}

fn encode_error(error: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Encode(Box::new(error))
}

/// The body with the row's current metadata in it.
fn body_of(row: &SqliteRow) -> Result<Value, sqlx::Error> {
    let mut body: Value = serde_json::from_str(row.get::<&str, _>("body")).map_err(decode_error)?;
    let metadata: Value =
        serde_json::from_str(row.get::<&str, _>("metadata")).map_err(decode_error)?;
    if let Value::Object(object) = &mut body {
        object.insert("metadata".into(), metadata);
    }
    Ok(body)
}

fn completion_of(row: &SqliteRow) -> Result<StoredChatCompletion, sqlx::Error> {
    Ok(StoredChatCompletion {
        id: row.get("id"),
        created_at: row.get("created_at"),
        requested_model: row.get("requested_model"),
        model: row.get("model"),
        metadata: serde_json::from_str(row.get::<&str, _>("metadata")).map_err(decode_error)?,
        messages: serde_json::from_str(row.get::<&str, _>("messages")).map_err(decode_error)?,
        body: body_of(row)?,
    })
}

/// Stores a completion.
pub async fn insert(
    pool: &SqlitePool,
    project: &str,
    completion: &StoredChatCompletion,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO chat_completions
         (id, project, created_at, requested_model, model, metadata, messages, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&completion.id)
    .bind(project)
    .bind(completion.created_at)
    .bind(&completion.requested_model)
    .bind(&completion.model)
    .bind(serde_json::to_string(&completion.metadata).map_err(encode_error)?)
    .bind(serde_json::to_string(&completion.messages).map_err(encode_error)?)
    .bind(completion.body.to_string())
    .execute(pool)
    .await?;
    Ok(())
}

/// A completion of `project`, if it is stored.
pub async fn get(
    pool: &SqlitePool,
    project: &str,
    id: &str,
) -> Result<Option<StoredChatCompletion>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, created_at, requested_model, model, metadata, messages, body
         FROM chat_completions WHERE id = ? AND project = ?",
    )
    .bind(id)
    .bind(project)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(completion_of).transpose()
}

/// Replaces a completion's metadata; the updated completion, if it is stored.
pub async fn update_metadata(
    pool: &SqlitePool,
    project: &str,
    id: &str,
    metadata: &Map<String, Value>,
) -> Result<Option<StoredChatCompletion>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE chat_completions SET metadata = ? WHERE id = ? AND project = ?
         RETURNING id, created_at, requested_model, model, metadata, messages, body",
    )
    .bind(serde_json::to_string(metadata).map_err(encode_error)?)
    .bind(id)
    .bind(project)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(completion_of).transpose()
}

/// Deletes a completion; false when `project` had no such completion.
pub async fn delete(pool: &SqlitePool, project: &str, id: &str) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("DELETE FROM chat_completions WHERE id = ? AND project = ?")
        .bind(id)
        .bind(project)
        .execute(pool)
        .await?;
    Ok(result.rows_affected() > 0)
}

/// One page of `project`'s completions (bodies with their metadata), ordered
/// by creation (then by when they were stored), filtered as `filter` says.
pub async fn list(
    pool: &SqlitePool,
    project: &str,
    filter: &ListFilter<'_>,
) -> Result<Page<Value>, sqlx::Error> {
    let mut query: QueryBuilder<Sqlite> =
        QueryBuilder::new("SELECT body, metadata FROM chat_completions WHERE project = ");
    query.push_bind(project);
    if let Some(model) = filter.model {
        query.push(" AND (model = ");
        query.push_bind(model);
        query.push(" OR requested_model = ");
        query.push_bind(model);
        query.push(")");
    }
    for (key, value) in &filter.metadata {
        query.push(" AND EXISTS (SELECT 1 FROM json_each(chat_completions.metadata) WHERE key = ");
        query.push_bind(key.as_str());
        query.push(" AND value = ");
        query.push_bind(value.as_str());
        query.push(")");
    }
    if let Some(after) = filter.after {
        query.push(if filter.descending {
            " AND (created_at, rowid) < "
        } else {
            " AND (created_at, rowid) > "
        });
        query.push("(SELECT created_at, rowid FROM chat_completions WHERE id = ");
        query.push_bind(after);
        query.push(" AND project = ");
        query.push_bind(project);
        query.push(")");
    }
    query.push(if filter.descending {
        " ORDER BY created_at DESC, rowid DESC LIMIT "
    } else {
        " ORDER BY created_at ASC, rowid ASC LIMIT "
    });
    query.push_bind(i64::try_from(filter.limit.saturating_add(1)).unwrap_or(i64::MAX));
    let rows = query.build().fetch_all(pool).await?;
    let mut items: Vec<Value> = rows.iter().map(body_of).collect::<Result<_, _>>()?;
    let has_more = items.len() > filter.limit;
    items.truncate(filter.limit);
    Ok(Page { items, has_more })
}

#[async_trait::async_trait]
impl crate::store::chat_completions::ChatCompletionStore for super::SqliteStore {
    async fn insert(&self, project: &str, completion: &StoredChatCompletion) -> StoreResult<()> {
        Ok(insert(self.db.pool(), project, completion).await?)
    }

    async fn get(&self, project: &str, id: &str) -> StoreResult<Option<StoredChatCompletion>> {
        Ok(get(self.db.pool(), project, id).await?)
    }

    async fn update_metadata(
        &self,
        project: &str,
        id: &str,
        metadata: &Map<String, Value>,
    ) -> StoreResult<Option<StoredChatCompletion>> {
        Ok(update_metadata(self.db.pool(), project, id, metadata).await?)
    }

    async fn delete(&self, project: &str, id: &str) -> StoreResult<bool> {
        Ok(delete(self.db.pool(), project, id).await?)
    }

    async fn list(&self, project: &str, filter: &ListFilter<'_>) -> StoreResult<Page<Value>> {
        Ok(list(self.db.pool(), project, filter).await?)
    }
}
