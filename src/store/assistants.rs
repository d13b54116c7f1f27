//! Storage of the Assistants API's objects — assistants, threads, messages,
//! runs and run steps — in one table (`assistant_objects`). Bodies are the JSON
//! the client sees, so reads are rows and no re-serialization. Every query
//! filters by project; `seq` (creation order) orders the cursor lists.
//!
//! Thread-, run- and step-specific queries live in `store::threads` and
//! `store::runs`; this file has the shared row operations and pagination.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use crate::wire::query::{ListQuery, Page};

/// Which kind of object a row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Assistant,
    Thread,
    Message,
    Run,
    Step,
}

impl Kind {
    /// The value of the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assistant => "assistant",
            Self::Thread => "thread",
            Self::Message => "message",
            Self::Run => "run",
            Self::Step => "step",
        }
    }
}

/// Where a new row belongs.
#[derive(Debug, Clone, Default)]
pub struct Placement<'a> {
    pub thread_id: Option<&'a str>,
    pub run_id: Option<&'a str>,
    pub status: Option<&'a str>,
    pub expires_at: Option<i64>,
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(value).map_err(|error| sqlx::Error::Encode(Box::new(error)))
}

pub(crate) fn decode<T: DeserializeOwned>(body: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(body).map_err(|error| sqlx::Error::Decode(Box::new(error)))
}

/// Inserts an object.
pub async fn insert<'e, E, T>(
    executor: E,
    project: &str,
    kind: Kind,
    id: &str,
    placement: Placement<'_>,
    body: &T,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
    T: Serialize,
{
    sqlx::query(
        "INSERT INTO assistant_objects (id, kind, project, thread_id, run_id, status, expires_at, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(project)
    .bind(placement.thread_id)
    .bind(placement.run_id)
    .bind(placement.status)
    .bind(placement.expires_at)
    .bind(encode(body)?)
    .execute(executor)
    .await?;
    Ok(())
}

/// Replaces an object's body (and status); false when it does not exist.
pub async fn update<'e, E, T>(
    executor: E,
    project: &str,
    kind: Kind,
    id: &str,
    status: Option<&str>,
    body: &T,
) -> Result<bool, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
    T: Serialize,
{
    let result = sqlx::query(
        "UPDATE assistant_objects SET body = ?, status = COALESCE(?, status)
         WHERE id = ? AND kind = ? AND project = ?",
    )
    .bind(encode(body)?)
    .bind(status)
    .bind(id)
    .bind(kind.as_str())
    .bind(project)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// An object of `project`, optionally required to sit in `thread_id`.
pub async fn get<T: DeserializeOwned>(
    pool: &SqlitePool,
    project: &str,
    kind: Kind,
    id: &str,
    thread_id: Option<&str>,
) -> Result<Option<T>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT body FROM assistant_objects
         WHERE id = ? AND kind = ? AND project = ? AND (? IS NULL OR thread_id = ?)",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(project)
    .bind(thread_id)
    .bind(thread_id)
    .fetch_optional(pool)
    .await?;
    row.map(|row| decode(row.get::<&str, _>("body")))
        .transpose()
}

/// Deletes an object; false when it did not exist in `project`.
pub async fn delete(
    pool: &SqlitePool,
    project: &str,
    kind: Kind,
    id: &str,
    thread_id: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "DELETE FROM assistant_objects
         WHERE id = ? AND kind = ? AND project = ? AND (? IS NULL OR thread_id = ?)",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(project)
    .bind(thread_id)
    .bind(thread_id)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// A page of objects of one kind, filtered by thread and run when given.
/// Ascending or descending by creation; `after` and `before` are ids of the
/// same list (an unknown cursor gives an empty page).
pub async fn list<T: DeserializeOwned>(
    pool: &SqlitePool,
    project: &str,
    kind: Kind,
    thread_id: Option<&str>,
    run_id: Option<&str>,
    query: &ListQuery,
) -> Result<Page<T>, sqlx::Error> {
    let cursor = |id: Option<String>| async move {
        match id {
            None => Ok::<_, sqlx::Error>(Some(None)),
            Some(id) => Ok(sqlx::query(
                "SELECT seq FROM assistant_objects WHERE id = ? AND kind = ? AND project = ?",
            )
            .bind(id)
            .bind(kind.as_str())
            .bind(project)
            .fetch_optional(pool)
            .await?
            .map(|row| Some(row.get::<i64, _>("seq")))),
        }
    };
    let (Some(after), Some(before)) = (
        cursor(query.after.clone()).await?,
        cursor(query.before.clone()).await?,
    ) else {
        return Ok(Page {
            items: Vec::new(),
            has_more: false,
        });
    };
    let mut builder: QueryBuilder<Sqlite> =
        QueryBuilder::new("SELECT body FROM assistant_objects WHERE kind = ");
    builder.push_bind(kind.as_str());
    builder.push(" AND project = ").push_bind(project);
    if let Some(thread_id) = thread_id {
        builder.push(" AND thread_id = ").push_bind(thread_id);
    }
    if let Some(run_id) = run_id {
        builder.push(" AND run_id = ").push_bind(run_id);
    }
    // In list order, `after` keeps what comes later and `before` what comes earlier.
    let (later, earlier) = if query.descending {
        (" AND seq < ", " AND seq > ")
    } else {
        (" AND seq > ", " AND seq < ")
    };
    if let Some(after) = after {
        builder.push(later).push_bind(after);
    }
    if let Some(before) = before {
        builder.push(earlier).push_bind(before);
    }
    // With only `before`, the page is the one right before the cursor.
    let from_the_end = before.is_some() && after.is_none();
    let descending = query.descending != from_the_end;
    builder.push(if descending {
        " ORDER BY seq DESC"
    } else {
        " ORDER BY seq ASC"
    });
    builder.push(" LIMIT ").push_bind(query.limit as i64 + 1);
    let rows = builder.build().fetch_all(pool).await?;
    let has_more = rows.len() > query.limit;
    let mut items = rows
        .iter()
        .take(query.limit)
        .map(|row| decode(row.get::<&str, _>("body")))
        .collect::<Result<Vec<T>, _>>()?;
    if from_the_end {
        items.reverse();
    }
    Ok(Page { items, has_more })
}

/// Inserts an object or replaces its body and status (the run engine stores
/// messages and steps this way as they happen).
pub async fn upsert<T: Serialize>(
    pool: &SqlitePool,
    project: &str,
    kind: Kind,
    id: &str,
    placement: Placement<'_>,
    body: &T,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO assistant_objects (id, kind, project, thread_id, run_id, status, expires_at, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET body = excluded.body, status = excluded.status,
             expires_at = excluded.expires_at",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(project)
    .bind(placement.thread_id)
    .bind(placement.run_id)
    .bind(placement.status)
    .bind(placement.expires_at)
    .bind(encode(body)?)
    .execute(pool)
    .await?;
    Ok(())
}
