//! Storage of responses and their input and output items. Bodies are stored as
//! the JSON the client sees, so a read is one row and no re-serialization.

use serde_json::Value;
use sqlx::{Row, SqlitePool};

use crate::responses::object::ResponseObject;

/// Inserts a new response (`in_progress`, or `queued` with the `job` a background
/// worker will run) with its input items, in one transaction.
pub async fn insert_response(
    pool: &SqlitePool,
    project: &str,
    response: &ResponseObject,
    input_items: &[Value],
    job: Option<&Value>,
) -> Result<(), sqlx::Error> {
    let body =
        serde_json::to_string(response).map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    let _writing = super::write_lock().await;
    let mut transaction = pool.begin().await?;
    sqlx::query(
        "INSERT INTO responses (id, project, previous_response_id, status, model, created_at, background, body, job)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&response.id)
    .bind(project)
    .bind(&response.previous_response_id)
    .bind(response.status.as_str())
    .bind(&response.model)
    .bind(response.created_at)
    .bind(response.background)
    .bind(body)
    .bind(job.map(Value::to_string))
    .execute(&mut *transaction)
    .await?;
    insert_items(&mut transaction, &response.id, "input", input_items).await?;
    transaction.commit().await
}

/// Stores a response's final state and its output items, in one transaction.
pub async fn finish_response(
    pool: &SqlitePool,
    response: &ResponseObject,
) -> Result<(), sqlx::Error> {
    let body =
        serde_json::to_string(response).map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    let output: Vec<Value> = response
        .output
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    let _writing = super::write_lock().await;
    let mut transaction = pool.begin().await?;
    sqlx::query("UPDATE responses SET status = ?, body = ? WHERE id = ?")
        .bind(response.status.as_str())
        .bind(body)
        .bind(&response.id)
        .execute(&mut *transaction)
        .await?;
    sqlx::query("DELETE FROM response_items WHERE response_id = ? AND side = 'output'")
        .bind(&response.id)
        .execute(&mut *transaction)
        .await?;
    insert_items(&mut transaction, &response.id, "output", &output).await?;
    transaction.commit().await
}

async fn insert_items(
    transaction: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    response_id: &str,
    side: &str,
    items: &[Value],
) -> Result<(), sqlx::Error> {
    for (position, item) in items.iter().enumerate() {
        let item_id = item.get("id").and_then(Value::as_str).unwrap_or_default();
        sqlx::query(
            "INSERT INTO response_items (response_id, side, position, item_id, body) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(response_id)
        .bind(side)
        .bind(position as i64)
        .bind(item_id)
        .bind(item.to_string())
        .execute(&mut **transaction)
        .await?;
    }
    Ok(())
}

/// A stored response's JSON body and status, if it exists in `project`.
pub async fn get_response(
    pool: &SqlitePool,
    project: &str,
    id: &str,
) -> Result<Option<StoredResponse>, sqlx::Error> {
    let row =
        sqlx::query("SELECT body, status, background FROM responses WHERE id = ? AND project = ?")
            .bind(id)
            .bind(project)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|row| StoredResponse {
        body: row.get("body"),
        status: row.get("status"),
        background: row.get("background"),
    }))
}

/// A stored response as read back.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    /// The Response JSON.
    pub body: String,
    /// Its status (`in_progress`, `completed`, …).
    pub status: String,
    /// Whether it was created with `background: true`.
    pub background: bool,
}

/// Deletes a response and its items; false when it did not exist in `project`.
pub async fn delete_response(
    pool: &SqlitePool,
    project: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("DELETE FROM responses WHERE id = ? AND project = ?")
        .bind(id)
        .bind(project)
        .execute(pool)
        .await?;
    Ok(result.rows_affected() > 0)
}

/// Every item of the chain ending at `last_id` (inclusive), oldest turn first:
/// each turn's input items, then its output items.
pub async fn chain_items(
    pool: &SqlitePool,
    project: &str,
    last_id: &str,
) -> Result<Vec<Value>, sqlx::Error> {
    Ok(chain_item_bodies(pool, project, last_id)
        .await?
        .iter()
        .filter_map(|body| serde_json::from_str(body).ok())
        .collect())
}

/// The items of [`chain_items`] as their stored JSON text. One recursive
/// query; the walk reads only the covering index `responses_chain`, not the
/// response bodies, and `CROSS JOIN` keeps the join order (with that index,
/// SQLite 3.46 otherwise scans the whole index at every step: a 1,000-turn
/// chain took 105 ms instead of 3 ms). Rows are read as `&str` and copied:
/// `query_scalar::<String>` took a millisecond more for 2,000 rows.
pub async fn chain_item_bodies(
    pool: &SqlitePool,
    project: &str,
    last_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "WITH RECURSIVE chain(id, previous, depth) AS (
             SELECT id, previous_response_id, 0 FROM responses WHERE id = ?1 AND project = ?2
             UNION ALL
             SELECT r.id, r.previous_response_id, chain.depth + 1
             FROM chain CROSS JOIN responses r ON r.id = chain.previous
             WHERE r.project = ?2
         )
         SELECT i.body FROM chain CROSS JOIN response_items i ON i.response_id = chain.id
         ORDER BY chain.depth DESC, i.side ASC, i.position ASC",
    )
    .bind(last_id)
    .bind(project)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| row.try_get::<&str, _>(0).map(str::to_owned))
        .collect()
}

/// The most recent stored item with this id in `project` (for `item_reference`).
pub async fn find_item(
    pool: &SqlitePool,
    project: &str,
    item_id: &str,
) -> Result<Option<Value>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT i.body FROM response_items i JOIN responses r ON r.id = i.response_id
         WHERE i.item_id = ? AND r.project = ? ORDER BY r.created_at DESC, r.rowid DESC LIMIT 1",
    )
    .bind(item_id)
    .bind(project)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|row| serde_json::from_str(row.get::<&str, _>("body")).ok()))
}

/// One page of a response's input items: everything the model was given, i.e.
/// the items of the chain it continues (each turn's input and output) followed by
/// its own input, as OpenAI lists them. `descending` is OpenAI's default order.
pub async fn list_input_items(
    pool: &SqlitePool,
    project: &str,
    response_id: &str,
    previous_response_id: Option<&str>,
    after: Option<&str>,
    limit: usize,
    descending: bool,
) -> Result<Page, sqlx::Error> {
    let mut items = match previous_response_id {
        Some(previous) => chain_items(pool, project, previous).await?,
        None => Vec::new(),
    };
    let rows = sqlx::query("SELECT body FROM response_items WHERE response_id = ? AND side = 'input' ORDER BY position")
        .bind(response_id)
        .fetch_all(pool)
        .await?;
    items.extend(
        rows.iter()
            .filter_map(|row| serde_json::from_str::<Value>(row.get::<&str, _>("body")).ok()),
    );
    if descending {
        items.reverse();
    }
    let start = match after {
        Some(after) => items
            .iter()
            .position(|item| item.get("id").and_then(Value::as_str) == Some(after))
            .map_or(items.len(), |index| index + 1),
        None => 0,
    };
    let remaining = &items[start.min(items.len())..];
    Ok(Page {
        has_more: remaining.len() > limit,
        items: remaining.iter().take(limit).cloned().collect(),
    })
}

/// A page of items.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Value>,
    pub has_more: bool,
}
