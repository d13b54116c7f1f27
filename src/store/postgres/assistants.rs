//! Assistants, threads, messages, runs and steps in PostgreSQL (one table of
//! objects, as in SQLite), with the lease of the process that runs each run.

use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::{Postgres, Row, Transaction};

use super::signals::notify;
use super::{fence_of, fenced, lease, PostgresStore};
use crate::store::assistants::{AssistantStore, ClaimedRun, Kind, NewRun, Placement, RunInsert};
use crate::store::error::StoreResult;
use crate::store::lease::Lease;
use crate::store::shared::Signal;
use crate::wire::query::{ListQuery, Page};
use crate::wire::runs::object::{RunJob, RunObject, RunStatus, RunStepObject};
use crate::wire::threads::object::{MessageObject, ThreadObject};

/// The statuses of a run that has not ended.
pub(super) const ACTIVE: &str = "('queued', 'in_progress', 'requires_action', 'cancelling')";

pub(super) async fn insert(
    transaction: &mut Transaction<'_, Postgres>,
    project: &str,
    kind: Kind,
    id: &str,
    placement: Placement<'_>,
    body: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO assistant_objects (id, kind, project, thread_id, run_id, status, expires_at, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(project)
    .bind(placement.thread_id)
    .bind(placement.run_id)
    .bind(placement.status)
    .bind(placement.expires_at)
    .bind(body)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

pub(super) async fn insert_messages(
    transaction: &mut Transaction<'_, Postgres>,
    project: &str,
    messages: &[MessageObject],
) -> StoreResult<()> {
    for message in messages {
        let placement = Placement {
            thread_id: Some(&message.thread_id),
            run_id: message.run_id.as_deref(),
            status: Some(&message.status),
            expires_at: None,
        };
        let body = serde_json::to_string(message)?;
        insert(
            transaction,
            project,
            Kind::Message,
            &message.id,
            placement,
            &body,
        )
        .await?;
    }
    Ok(())
}

/// Whether `lease` is still the run's (`None`: no such run).
async fn holds_run(
    transaction: &mut Transaction<'_, Postgres>,
    run_id: &str,
    lease: &Lease,
) -> StoreResult<Option<bool>> {
    let fence: Option<i64> = sqlx::query_scalar(
        "SELECT lease_fence FROM assistant_objects WHERE id = $1 AND kind = 'run' FOR UPDATE",
    )
    .bind(run_id)
    .fetch_optional(&mut **transaction)
    .await?;
    Ok(fence.map(|fence| fence == fence_of(lease)))
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(body: &str) -> StoreResult<T> {
    Ok(serde_json::from_str(body)?)
}

#[async_trait]
impl AssistantStore for PostgresStore {
    async fn insert_object(
        &self,
        project: &str,
        kind: Kind,
        id: &str,
        placement: Placement<'_>,
        body: String,
    ) -> StoreResult<()> {
        let mut transaction = super::begin(&self.pool).await?;
        insert(&mut transaction, project, kind, id, placement, &body).await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn update_object(
        &self,
        project: &str,
        kind: Kind,
        id: &str,
        status: Option<&str>,
        body: String,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE assistant_objects SET body = $1, status = COALESCE($2, status)
             WHERE id = $3 AND kind = $4 AND project = $5",
        )
        .bind(body)
        .bind(status)
        .bind(id)
        .bind(kind.as_str())
        .bind(project)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn upsert_object(
        &self,
        lease: Option<&Lease>,
        project: &str,
        kind: Kind,
        id: &str,
        placement: Placement<'_>,
        body: String,
    ) -> StoreResult<()> {
        let mut transaction = super::begin(&self.pool).await?;
        if let (Some(lease), Some(run_id)) = (lease, placement.run_id) {
            if holds_run(&mut transaction, run_id, lease).await? == Some(false) {
                return Err(fenced(run_id));
            }
        }
        sqlx::query(
            "INSERT INTO assistant_objects (id, kind, project, thread_id, run_id, status, expires_at, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
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
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn get_object(
        &self,
        project: &str,
        kind: Kind,
        id: &str,
        thread_id: Option<&str>,
    ) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT body FROM assistant_objects
             WHERE id = $1 AND kind = $2 AND project = $3 AND ($4::TEXT IS NULL OR thread_id = $4)",
        )
        .bind(id)
        .bind(kind.as_str())
        .bind(project)
        .bind(thread_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn delete_object(
        &self,
        project: &str,
        kind: Kind,
        id: &str,
        thread_id: Option<&str>,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "DELETE FROM assistant_objects
             WHERE id = $1 AND kind = $2 AND project = $3 AND ($4::TEXT IS NULL OR thread_id = $4)",
        )
        .bind(id)
        .bind(kind.as_str())
        .bind(project)
        .bind(thread_id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn list_objects(
        &self,
        project: &str,
        kind: Kind,
        thread_id: Option<&str>,
        run_id: Option<&str>,
        query: &ListQuery,
    ) -> StoreResult<Page<String>> {
        let cursor = |id: &Option<String>| {
            let id = id.clone();
            async move {
                match id {
                    None => Ok::<_, crate::store::error::StoreError>(Some(None)),
                    Some(id) => Ok(sqlx::query_scalar::<_, i64>(
                        "SELECT seq FROM assistant_objects WHERE id = $1 AND kind = $2 AND project = $3",
                    )
                    .bind(id)
                    .bind(kind.as_str())
                    .bind(project)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(Some)),
                }
            }
        };
        let (Some(after), Some(before)) =
            (cursor(&query.after).await?, cursor(&query.before).await?)
        else {
            return Ok(Page {
                items: Vec::new(),
                has_more: false,
            });
        };
        // In list order, `after` keeps what comes later and `before` what comes earlier.
        let (later, earlier) = if query.descending {
            ("<", ">")
        } else {
            (">", "<")
        };
        // With only `before`, the page is the one right before the cursor.
        let from_the_end = before.is_some() && after.is_none();
        let descending = query.descending != from_the_end;
        let sql = format!(
            "SELECT body FROM assistant_objects
             WHERE kind = $1 AND project = $2
               AND ($3::TEXT IS NULL OR thread_id = $3) AND ($4::TEXT IS NULL OR run_id = $4)
               AND ($5::BIGINT IS NULL OR seq {later} $5) AND ($6::BIGINT IS NULL OR seq {earlier} $6)
             ORDER BY seq {} LIMIT $7",
            if descending { "DESC" } else { "ASC" }
        );
        let rows: Vec<String> = sqlx::query_scalar(&sql)
            .bind(kind.as_str())
            .bind(project)
            .bind(thread_id)
            .bind(run_id)
            .bind(after)
            .bind(before)
            .bind(query.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await?;
        let has_more = rows.len() > query.limit;
        let mut items: Vec<String> = rows.into_iter().take(query.limit).collect();
        if from_the_end {
            items.reverse();
        }
        Ok(Page { items, has_more })
    }

    async fn create_thread(
        &self,
        project: &str,
        thread: &ThreadObject,
        messages: &[MessageObject],
    ) -> StoreResult<()> {
        let mut transaction = super::begin(&self.pool).await?;
        let body = serde_json::to_string(thread)?;
        insert(
            &mut transaction,
            project,
            Kind::Thread,
            &thread.id,
            Placement::default(),
            &body,
        )
        .await?;
        insert_messages(&mut transaction, project, messages).await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn delete_thread(&self, project: &str, id: &str) -> StoreResult<bool> {
        let mut transaction = super::begin(&self.pool).await?;
        // The thread's runs are locked first, as a run's owner locks its run
        // before its steps and messages (`holds_run`): deleting them in
        // another order deadlocks with a run still writing.
        sqlx::query(
            "SELECT id FROM assistant_objects WHERE thread_id = $1 AND kind = 'run' AND project = $2
             ORDER BY seq FOR UPDATE",
        )
        .bind(id)
        .bind(project)
        .fetch_all(&mut *transaction)
        .await?;
        let result = sqlx::query(
            "DELETE FROM assistant_objects WHERE id = $1 AND kind = 'thread' AND project = $2",
        )
        .bind(id)
        .bind(project)
        .execute(&mut *transaction)
        .await?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM assistant_objects WHERE thread_id = $1 AND project = $2")
            .bind(id)
            .bind(project)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(true)
    }

    async fn delete_rows_of_deleted_thread(&self, run_id: &str) -> StoreResult<u64> {
        let deleted = sqlx::query(
            "DELETE FROM assistant_objects o
             WHERE (o.id = $1 OR o.run_id = $1) AND o.thread_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM assistant_objects t
                               WHERE t.id = o.thread_id AND t.kind = 'thread')",
        )
        .bind(run_id)
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected())
    }

    async fn thread_messages(
        &self,
        project: &str,
        thread_id: &str,
    ) -> StoreResult<Vec<MessageObject>> {
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM assistant_objects WHERE kind = 'message' AND project = $1 AND thread_id = $2 ORDER BY seq",
        )
        .bind(project)
        .bind(thread_id)
        .fetch_all(&self.pool)
        .await?;
        bodies.iter().map(|body| decode(body)).collect()
    }

    async fn has_user_message(&self, project: &str, thread_id: &str) -> StoreResult<bool> {
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM assistant_objects WHERE kind = 'message' AND project = $1 AND thread_id = $2
               AND (body::jsonb)->>'role' = 'user' LIMIT 1",
        )
        .bind(project)
        .bind(thread_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    async fn active_run(&self, project: &str, thread_id: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT id FROM assistant_objects WHERE kind = 'run' AND project = $1 AND thread_id = $2
               AND status IN {ACTIVE} ORDER BY seq DESC LIMIT 1"
        ))
        .bind(project)
        .bind(thread_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn insert_run(&self, new_run: NewRun<'_>) -> StoreResult<RunInsert> {
        super::runs::insert_run(self, new_run).await
    }

    async fn claim_run(&self, holder: &str, run_id: &str) -> StoreResult<Option<ClaimedRun>> {
        let row = sqlx::query(
            "UPDATE assistant_objects SET status = 'in_progress', lease_holder = $1,
                    lease_fence = lease_fence + 1, lease_expires_at = $2
             WHERE id = $3 AND kind = 'run' AND status IN ('queued', 'cancelling')
             RETURNING project, body, job, lease_fence",
        )
        .bind(holder)
        .bind(self.lease_end())
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let run: RunObject = decode(row.get::<&str, _>("body"))?;
        let job: RunJob = match row.get::<Option<&str>, _>("job") {
            Some(job) => decode(job)?,
            None => RunJob::default(),
        };
        Ok(Some(ClaimedRun {
            project: row.get("project"),
            cancel_requested: run.status == RunStatus::Cancelling,
            run,
            job,
            lease: lease(holder, row.get("lease_fence")),
        }))
    }

    async fn save_run(
        &self,
        lease: &Lease,
        project: &str,
        run: &RunObject,
        job: Option<&RunJob>,
    ) -> StoreResult<()> {
        let mut transaction = super::begin(&self.pool).await?;
        if holds_run(&mut transaction, &run.id, lease).await? == Some(false) {
            return Err(fenced(&run.id));
        }
        sqlx::query(
            "UPDATE assistant_objects SET body = $1, status = $2, expires_at = $3, job = COALESCE($4, job)
             WHERE id = $5 AND kind = 'run' AND project = $6",
        )
        .bind(serde_json::to_string(run)?)
        .bind(run.status.as_str())
        .bind(run.expires_at)
        .bind(job.map(serde_json::to_string).transpose()?)
        .bind(&run.id)
        .bind(project)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn transition(
        &self,
        project: &str,
        run: &RunObject,
        from: &[RunStatus],
    ) -> StoreResult<bool> {
        let from: Vec<String> = from
            .iter()
            .map(|status| status.as_str().to_owned())
            .collect();
        // A run queued again must be claimed by a deadline (see
        // `runs::stranded_queued_runs`); a cancel is announced to its owner.
        let mut transaction = super::begin(&self.pool).await?;
        let result = sqlx::query(
            "UPDATE assistant_objects SET body = $1, status = $2, expires_at = $3,
                    lease_expires_at = CASE WHEN $2 = 'queued' THEN $7 ELSE lease_expires_at END
             WHERE id = $4 AND kind = 'run' AND project = $5 AND status = ANY($6)",
        )
        .bind(serde_json::to_string(run)?)
        .bind(run.status.as_str())
        .bind(run.expires_at)
        .bind(&run.id)
        .bind(project)
        .bind(&from)
        .bind(self.lease_end())
        .execute(&mut *transaction)
        .await?;
        let moved = result.rows_affected() > 0;
        if moved && run.status == RunStatus::Cancelling {
            notify(&mut *transaction, &Signal::Cancel(run.id.clone())).await?;
        }
        transaction.commit().await?;
        Ok(moved)
    }

    async fn run_job(&self, run_id: &str) -> StoreResult<RunJob> {
        let job: Option<Option<String>> =
            sqlx::query_scalar("SELECT job FROM assistant_objects WHERE id = $1 AND kind = 'run'")
                .bind(run_id)
                .fetch_optional(&self.pool)
                .await?;
        match job.flatten() {
            Some(job) => decode(&job),
            None => Ok(RunJob::default()),
        }
    }

    async fn run_steps(&self, project: &str, run_id: &str) -> StoreResult<Vec<RunStepObject>> {
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM assistant_objects WHERE kind = 'step' AND project = $1 AND run_id = $2 ORDER BY seq",
        )
        .bind(project)
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        bodies.iter().map(|body| decode(body)).collect()
    }

    async fn due_for_expiry(&self, now: i64) -> StoreResult<Vec<(String, RunObject)>> {
        let rows = sqlx::query(
            "SELECT project, body FROM assistant_objects
             WHERE kind = 'run' AND status IN ('requires_action', 'queued') AND expires_at <= $1",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.get("project"), decode(row.get::<&str, _>("body"))?)))
            .collect()
    }

    async fn set_run_metadata(
        &self,
        project: &str,
        run_id: &str,
        metadata: &Map<String, Value>,
    ) -> StoreResult<()> {
        super::runs::set_run_metadata(self, project, run_id, metadata).await
    }

    async fn unfinished_runs(
        &self,
        project: &str,
        key_id: Option<&str>,
    ) -> StoreResult<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT id, thread_id FROM assistant_objects
             WHERE kind = 'run' AND project = $1 AND thread_id IS NOT NULL
               AND status IN ('queued', 'in_progress', 'requires_action')
               AND ($2::TEXT IS NULL OR (job::JSON ->> 'key_id') = $2)
             ORDER BY seq",
        )
        .bind(project)
        .bind(key_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| (row.get("id"), row.get("thread_id")))
            .collect())
    }

    async fn recover_runs(&self, now: i64) -> StoreResult<Vec<String>> {
        super::runs::recover_runs(self, now).await
    }
}
