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

use super::{runs, threads};
use crate::store::assistants::{ClaimedRun, Kind, NewRun, Placement, RunInsert};
use crate::store::error::StoreResult;
use crate::store::lease::Lease;
use crate::wire::query::{ListQuery, Page};
use crate::wire::runs::object::{RunJob, RunObject, RunStatus, RunStepObject};
use crate::wire::threads::object::{MessageObject, ThreadObject};

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(value).map_err(|error| sqlx::Error::Encode(Box::new(error)))
}

pub(crate) fn decode<T: DeserializeOwned>(body: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(body).map_err(|error| sqlx::Error::Decode(Box::new(error)))
}

/// Inserts an object.
pub async fn insert<'e, E>(
    executor: E,
    project: &str,
    kind: Kind,
    id: &str,
    placement: Placement<'_>,
    body: &str,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
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
    .bind(body)
    .execute(executor)
    .await?;
    Ok(())
}

/// Replaces an object's body (and status); false when it does not exist.
pub async fn update(
    pool: &SqlitePool,
    project: &str,
    kind: Kind,
    id: &str,
    status: Option<&str>,
    body: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE assistant_objects SET body = ?, status = COALESCE(?, status)
         WHERE id = ? AND kind = ? AND project = ?",
    )
    .bind(body)
    .bind(status)
    .bind(id)
    .bind(kind.as_str())
    .bind(project)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// An object of `project`, optionally required to sit in `thread_id`.
pub async fn get(
    pool: &SqlitePool,
    project: &str,
    kind: Kind,
    id: &str,
    thread_id: Option<&str>,
) -> Result<Option<String>, sqlx::Error> {
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
    Ok(row.map(|row| row.get("body")))
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
pub async fn list(
    pool: &SqlitePool,
    project: &str,
    kind: Kind,
    thread_id: Option<&str>,
    run_id: Option<&str>,
    query: &ListQuery,
) -> Result<Page<String>, sqlx::Error> {
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
    let mut items: Vec<String> = rows
        .iter()
        .take(query.limit)
        .map(|row| row.get("body"))
        .collect();
    if from_the_end {
        items.reverse();
    }
    Ok(Page { items, has_more })
}

/// Inserts an object or replaces its body and status (the run engine stores
/// messages and steps this way as they happen).
pub async fn upsert(
    pool: &SqlitePool,
    project: &str,
    kind: Kind,
    id: &str,
    placement: Placement<'_>,
    body: &str,
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
    .bind(body)
    .execute(pool)
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl crate::store::assistants::AssistantStore for super::SqliteStore {
    async fn insert_object(
        &self,
        project: &str,
        kind: Kind,
        id: &str,
        placement: Placement<'_>,
        body: String,
    ) -> StoreResult<()> {
        Ok(insert(self.db.pool(), project, kind, id, placement, &body).await?)
    }

    async fn update_object(
        &self,
        project: &str,
        kind: Kind,
        id: &str,
        status: Option<&str>,
        body: String,
    ) -> StoreResult<bool> {
        Ok(update(self.db.pool(), project, kind, id, status, &body).await?)
    }

    async fn upsert_object(
        &self,
        _lease: Option<&Lease>,
        project: &str,
        kind: Kind,
        id: &str,
        placement: Placement<'_>,
        body: String,
    ) -> StoreResult<()> {
        Ok(upsert(self.db.pool(), project, kind, id, placement, &body).await?)
    }

    async fn get_object(
        &self,
        project: &str,
        kind: Kind,
        id: &str,
        thread_id: Option<&str>,
    ) -> StoreResult<Option<String>> {
        Ok(get(self.db.pool(), project, kind, id, thread_id).await?)
    }

    async fn delete_object(
        &self,
        project: &str,
        kind: Kind,
        id: &str,
        thread_id: Option<&str>,
    ) -> StoreResult<bool> {
        Ok(delete(self.db.pool(), project, kind, id, thread_id).await?)
    }

    async fn list_objects(
        &self,
        project: &str,
        kind: Kind,
        thread_id: Option<&str>,
        run_id: Option<&str>,
        query: &ListQuery,
    ) -> StoreResult<Page<String>> {
        Ok(list(self.db.pool(), project, kind, thread_id, run_id, query).await?)
    }

    async fn create_thread(
        &self,
        project: &str,
        thread: &ThreadObject,
        messages: &[MessageObject],
    ) -> StoreResult<()> {
        Ok(threads::create_thread(self.db.pool(), project, thread, messages).await?)
    }

    async fn delete_thread(&self, project: &str, id: &str) -> StoreResult<bool> {
        Ok(threads::delete_thread(self.db.pool(), project, id).await?)
    }

    async fn delete_rows_of_deleted_thread(&self, run_id: &str) -> StoreResult<u64> {
        Ok(threads::delete_rows_of_deleted_thread(self.db.pool(), run_id).await?)
    }

    async fn thread_messages(
        &self,
        project: &str,
        thread_id: &str,
    ) -> StoreResult<Vec<MessageObject>> {
        Ok(threads::thread_messages(self.db.pool(), project, thread_id).await?)
    }

    async fn has_user_message(&self, project: &str, thread_id: &str) -> StoreResult<bool> {
        Ok(threads::has_user_message(self.db.pool(), project, thread_id).await?)
    }

    async fn active_run(&self, project: &str, thread_id: &str) -> StoreResult<Option<String>> {
        Ok(threads::active_run(self.db.pool(), project, thread_id).await?)
    }

    async fn insert_run(&self, new_run: NewRun<'_>) -> StoreResult<RunInsert> {
        Ok(runs::insert_run(
            self.db.pool(),
            new_run.project,
            new_run.run,
            new_run.job,
            new_run.thread,
            new_run.messages,
        )
        .await?)
    }

    async fn claim_run(&self, _holder: &str, run_id: &str) -> StoreResult<Option<ClaimedRun>> {
        Ok(runs::claim(self.db.pool(), run_id).await?)
    }

    async fn save_run(
        &self,
        _lease: &Lease,
        project: &str,
        run: &RunObject,
        job: Option<&RunJob>,
    ) -> StoreResult<()> {
        Ok(runs::save_run(self.db.pool(), project, run, job).await?)
    }

    async fn transition(
        &self,
        project: &str,
        run: &RunObject,
        from: &[RunStatus],
    ) -> StoreResult<bool> {
        Ok(runs::transition(self.db.pool(), project, run, from).await?)
    }

    async fn run_job(&self, run_id: &str) -> StoreResult<RunJob> {
        Ok(runs::job(self.db.pool(), run_id).await?)
    }

    async fn run_steps(&self, project: &str, run_id: &str) -> StoreResult<Vec<RunStepObject>> {
        Ok(runs::run_steps(self.db.pool(), project, run_id).await?)
    }

    async fn due_for_expiry(&self, now: i64) -> StoreResult<Vec<(String, RunObject)>> {
        Ok(runs::due_for_expiry(self.db.pool(), now).await?)
    }

    async fn set_run_metadata(
        &self,
        project: &str,
        run_id: &str,
        metadata: &serde_json::Map<String, serde_json::Value>,
    ) -> StoreResult<()> {
        Ok(runs::set_metadata(self.db.pool(), project, run_id, metadata).await?)
    }

    async fn unfinished_runs(
        &self,
        project: &str,
        key_id: Option<&str>,
    ) -> StoreResult<Vec<(String, String)>> {
        Ok(runs::unfinished_runs(self.db.pool(), project, key_id).await?)
    }

    async fn recover_runs(&self, now: i64) -> StoreResult<Vec<String>> {
        Ok(runs::recover(self.db.pool(), now).await?)
    }
}
