//! Storage of runs and their steps (rows of `assistant_objects`): storing a
//! new run (with its thread or additional messages, and its engine job) in one
//! transaction before the client hears of it, claiming a queued run for the
//! task that executes it, moving a run between statuses only from the status
//! the caller saw, finding runs whose time for tool outputs is over, a
//! project's unfinished runs (the kill switch), and resolving what a crash
//! interrupted.

use serde_json::Value;
use sqlx::{Row, SqlitePool};

use crate::wire::runs::object::RunJob;
use crate::wire::runs::object::{last_error, RunObject, RunStatus, RunStepObject};
use crate::wire::threads::object::{MessageObject, ThreadObject};

use crate::store::assistants::{
    end_interrupted_part, run_placement, ClaimedRun, Kind, Placement, RunInsert,
    INTERRUPTED_MESSAGE,
};
use crate::store::lease::Lease;
use crate::store::sqlite::assistants::{decode, encode, insert};
use crate::store::sqlite::threads::insert_messages;

/// Stores a queued run with its job, and (create-thread-and-run) its new
/// thread, and its messages, all or nothing.
pub async fn insert_run(
    pool: &SqlitePool,
    project: &str,
    run: &RunObject,
    job: &RunJob,
    thread: Option<&ThreadObject>,
    messages: &[MessageObject],
) -> Result<RunInsert, sqlx::Error> {
    // Queued behind other writers, so that two runs created at once on one
    // thread cannot both find it idle.
    let _writing = crate::store::sqlite::writer::write_lock().await;
    if thread.is_none() {
        if let Some(active) =
            crate::store::sqlite::threads::active_run(pool, project, &run.thread_id).await?
        {
            return Ok(RunInsert::ThreadBusy(active));
        }
    }
    let mut transaction = pool.begin().await?;
    if let Some(thread) = thread {
        insert(
            &mut *transaction,
            project,
            Kind::Thread,
            &thread.id,
            Placement::default(),
            &encode(thread)?,
        )
        .await?;
    }
    insert_messages(&mut transaction, project, messages).await?;
    insert(
        &mut *transaction,
        project,
        Kind::Run,
        &run.id,
        run_placement(run),
        &encode(run)?,
    )
    .await?;
    sqlx::query("UPDATE assistant_objects SET job = ? WHERE id = ?")
        .bind(encode(job)?)
        .bind(&run.id)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(RunInsert::Inserted)
}

/// Atomically moves a queued (or cancelling, not yet started) run to
/// `in_progress` and returns it; `None` when someone else has it.
pub async fn claim(pool: &SqlitePool, run_id: &str) -> Result<Option<ClaimedRun>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE assistant_objects SET status = 'in_progress'
         WHERE id = ? AND kind = 'run' AND status IN ('queued', 'cancelling')
         RETURNING project, body, job",
    )
    .bind(run_id)
    .fetch_optional(pool)
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
        lease: Lease::sole_owner(),
    }))
}

/// Stores a run's body and status (and its job, when given).
pub async fn save_run(
    pool: &SqlitePool,
    project: &str,
    run: &RunObject,
    job: Option<&RunJob>,
) -> Result<(), sqlx::Error> {
    let job = job.map(encode).transpose()?;
    sqlx::query(
        "UPDATE assistant_objects SET body = ?, status = ?, expires_at = ?, job = COALESCE(?, job)
         WHERE id = ? AND kind = 'run' AND project = ?",
    )
    .bind(encode(run)?)
    .bind(run.status.as_str())
    .bind(run.expires_at)
    .bind(job)
    .bind(&run.id)
    .bind(project)
    .execute(pool)
    .await?;
    Ok(())
}

/// Stores a run only if it is still in status `from`; false when it moved on.
pub async fn transition(
    pool: &SqlitePool,
    project: &str,
    run: &RunObject,
    from: &[RunStatus],
) -> Result<bool, sqlx::Error> {
    let mut result = 0;
    for status in from {
        result += sqlx::query(
            "UPDATE assistant_objects SET body = ?, status = ?, expires_at = ?
             WHERE id = ? AND kind = 'run' AND project = ? AND status = ?",
        )
        .bind(encode(run)?)
        .bind(run.status.as_str())
        .bind(run.expires_at)
        .bind(&run.id)
        .bind(project)
        .bind(status.as_str())
        .execute(pool)
        .await?
        .rows_affected();
    }
    Ok(result > 0)
}

/// A run's job.
pub async fn job(pool: &SqlitePool, run_id: &str) -> Result<RunJob, sqlx::Error> {
    let row = sqlx::query("SELECT job FROM assistant_objects WHERE id = ? AND kind = 'run'")
        .bind(run_id)
        .fetch_optional(pool)
        .await?;
    match row.and_then(|row| row.get::<Option<String>, _>("job")) {
        Some(job) => decode(&job),
        None => Ok(RunJob::default()),
    }
}

/// Every step of a run, oldest first.
pub async fn run_steps(
    pool: &SqlitePool,
    project: &str,
    run_id: &str,
) -> Result<Vec<RunStepObject>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT body FROM assistant_objects WHERE kind = 'step' AND project = ? AND run_id = ? ORDER BY seq",
    )
    .bind(project)
    .bind(run_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| decode(row.get::<&str, _>("body")))
        .collect()
}

/// Runs waiting (for tool outputs or a worker) whose `expires_at` has passed: (project, run).
pub async fn due_for_expiry(
    pool: &SqlitePool,
    now: i64,
) -> Result<Vec<(String, RunObject)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT project, body FROM assistant_objects
         WHERE kind = 'run' AND status IN ('requires_action', 'queued') AND expires_at <= ?",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| Ok((row.get("project"), decode(row.get::<&str, _>("body"))?)))
        .collect()
}

/// Marks runs a crash interrupted (`in_progress`, `cancelling`) as failed, with
/// their open steps failed and open messages incomplete; returns the ids of
/// the queued runs, which start again.
pub async fn recover(pool: &SqlitePool, now: i64) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT project, body FROM assistant_objects WHERE kind = 'run' AND status IN ('in_progress', 'cancelling')",
    )
    .fetch_all(pool)
    .await?;
    for row in &rows {
        let project: String = row.get("project");
        let mut run: RunObject = decode(row.get::<&str, _>("body"))?;
        run.status = RunStatus::Failed;
        run.failed_at = Some(now);
        run.expires_at = None;
        run.last_error = Some(last_error("server_error", INTERRUPTED_MESSAGE));
        save_run(pool, &project, &run, None).await?;
        let open = sqlx::query(
            "SELECT id, kind, body FROM assistant_objects WHERE run_id = ? AND kind IN ('step', 'message') AND status = 'in_progress'",
        )
        .bind(&run.id)
        .fetch_all(pool)
        .await?;
        for row in open {
            let mut body: Value = decode(row.get::<&str, _>("body"))?;
            let status = end_interrupted_part(row.get::<&str, _>("kind"), &mut body, now);
            sqlx::query("UPDATE assistant_objects SET body = ?, status = ? WHERE id = ?")
                .bind(encode(&body)?)
                .bind(status)
                .bind(row.get::<&str, _>("id"))
                .execute(pool)
                .await?;
        }
    }
    let queued = sqlx::query(
        "SELECT id FROM assistant_objects WHERE kind = 'run' AND status = 'queued' ORDER BY seq",
    )
    .fetch_all(pool)
    .await?;
    Ok(queued.iter().map(|row| row.get("id")).collect())
}

/// Replaces a run's metadata in place (only that field changes).
pub async fn set_metadata(
    pool: &SqlitePool,
    project: &str,
    run_id: &str,
    metadata: &serde_json::Map<String, Value>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE assistant_objects SET body = json_set(body, '$.metadata', json(?))
         WHERE id = ? AND kind = 'run' AND project = ?",
    )
    .bind(encode(metadata)?)
    .bind(run_id)
    .bind(project)
    .execute(pool)
    .await?;
    Ok(())
}

/// A project's runs that have not ended, as (run id, thread id).
pub async fn unfinished_runs(
    pool: &SqlitePool,
    project: &str,
    key_id: Option<&str>,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, thread_id FROM assistant_objects
         WHERE kind = 'run' AND project = ?1 AND thread_id IS NOT NULL
           AND status IN ('queued', 'in_progress', 'requires_action')
           AND (?2 IS NULL OR json_extract(job, '$.key_id') = ?2)",
    )
    .bind(project)
    .bind(key_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| (row.get("id"), row.get("thread_id")))
        .collect())
}
