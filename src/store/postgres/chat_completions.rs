//! Stored chat completions in PostgreSQL. A row keeps the completion as
//! retrieved (`body`) and its metadata apart; reads put the current metadata
//! into the body.

use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};

use super::PostgresStore;
use crate::store::chat_completions::{ChatCompletionStore, ListFilter, StoredChatCompletion};
use crate::store::error::StoreResult;
use crate::wire::query::Page;

const COLUMNS: &str = "id, created_at, requested_model, model, metadata, messages, body";

fn body_of(row: &PgRow) -> StoreResult<Value> {
    let mut body: Value = serde_json::from_str(row.get::<&str, _>("body"))?;
    let metadata: Value = serde_json::from_str(row.get::<&str, _>("metadata"))?;
    if let Value::Object(object) = &mut body {
        object.insert("metadata".into(), metadata);
    }
    Ok(body)
}

fn completion_of(row: &PgRow) -> StoreResult<StoredChatCompletion> {
    Ok(StoredChatCompletion {
        id: row.get("id"),
        created_at: row.get("created_at"),
        requested_model: row.get("requested_model"),
        model: row.get("model"),
        metadata: serde_json::from_str(row.get::<&str, _>("metadata"))?,
        messages: serde_json::from_str(row.get::<&str, _>("messages"))?,
        body: body_of(row)?,
    })
}

#[async_trait]
impl ChatCompletionStore for PostgresStore {
    async fn insert(&self, project: &str, completion: &StoredChatCompletion) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO chat_completions
             (id, project, created_at, requested_model, model, metadata, messages, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&completion.id)
        .bind(project)
        .bind(completion.created_at)
        .bind(&completion.requested_model)
        .bind(&completion.model)
        .bind(serde_json::to_string(&completion.metadata)?)
        .bind(serde_json::to_string(&completion.messages)?)
        .bind(completion.body.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get(&self, project: &str, id: &str) -> StoreResult<Option<StoredChatCompletion>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM chat_completions WHERE id = $1 AND project = $2"
        ))
        .bind(id)
        .bind(project)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(completion_of).transpose()
    }

    async fn update_metadata(
        &self,
        project: &str,
        id: &str,
        metadata: &Map<String, Value>,
    ) -> StoreResult<Option<StoredChatCompletion>> {
        let row = sqlx::query(&format!(
            "UPDATE chat_completions SET metadata = $1 WHERE id = $2 AND project = $3 RETURNING {COLUMNS}"
        ))
        .bind(serde_json::to_string(metadata)?)
        .bind(id)
        .bind(project)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(completion_of).transpose()
    }

    async fn delete(&self, project: &str, id: &str) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM chat_completions WHERE id = $1 AND project = $2")
            .bind(id)
            .bind(project)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn list(&self, project: &str, filter: &ListFilter<'_>) -> StoreResult<Page<Value>> {
        let mut query: QueryBuilder<Postgres> =
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
            query.push(" AND (metadata::jsonb) ->> ");
            query.push_bind(key.as_str());
            query.push(" = ");
            query.push_bind(value.as_str());
        }
        if let Some(after) = filter.after {
            query.push(if filter.descending {
                " AND (created_at, seq) < "
            } else {
                " AND (created_at, seq) > "
            });
            query.push("(SELECT created_at, seq FROM chat_completions WHERE id = ");
            query.push_bind(after);
            query.push(" AND project = ");
            query.push_bind(project);
            query.push(")");
        }
        query.push(if filter.descending {
            " ORDER BY created_at DESC, seq DESC LIMIT "
        } else {
            " ORDER BY created_at ASC, seq ASC LIMIT "
        });
        query.push_bind(i64::try_from(filter.limit.saturating_add(1)).unwrap_or(i64::MAX));
        let rows = query.build().fetch_all(&self.pool).await?;
        let mut items: Vec<Value> = rows.iter().map(body_of).collect::<StoreResult<_>>()?;
        let has_more = items.len() > filter.limit;
        items.truncate(filter.limit);
        Ok(Page { items, has_more })
    }
}
