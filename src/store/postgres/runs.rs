//! The lifecycle of runs in PostgreSQL that takes more than one statement:
//! storing a new run with its thread or messages (two runs on one thread
//! serialized by the thread's row lock), replacing a run's metadata without
//! reordering its JSON, and resolving runs a stopped process left running.
//! `assistants.rs` holds the rest of the Assistants objects.

use serde_json::{Map, Value};
use sqlx::Row;

use super::assistants::{decode, insert, insert_messages, ACTIVE};
use super::PostgresStore;
use crate::store::assistants::{
    end_interrupted_part, run_placement, Kind, NewRun, Placement, RunInsert, INTERRUPTED_MESSAGE,
};
use crate::store::error::StoreResult;
use crate::wire::runs::object::{last_error, RunObject, RunStatus};

pub(super) async fn insert_run(
    store: &PostgresStore,
    new_run: NewRun<'_>,
) -> StoreResult<RunInsert> {
    let NewRun {
        project,
        run,
        job,
        thread,
        messages,
    } = new_run;
    let mut transaction = super::begin(&store.pool).await?;
    match thread {
        Some(thread) => {
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
        }
        None => {
            // The thread's row, locked: two runs created at once on one
            // thread (on any process) cannot both find it idle.
            sqlx::query(
                "SELECT id FROM assistant_objects WHERE id = $1 AND kind = 'thread' FOR UPDATE",
            )
            .bind(&run.thread_id)
            .fetch_optional(&mut *transaction)
            .await?;
            let active: Option<String> = sqlx::query_scalar(&format!(
                "SELECT id FROM assistant_objects WHERE kind = 'run' AND project = $1 AND thread_id = $2
                   AND status IN {ACTIVE} ORDER BY seq DESC LIMIT 1"
            ))
            .bind(project)
            .bind(&run.thread_id)
            .fetch_optional(&mut *transaction)
            .await?;
            if let Some(active) = active {
                return Ok(RunInsert::ThreadBusy(active));
            }
        }
    }
    insert_messages(&mut transaction, project, messages).await?;
    let body = serde_json::to_string(run)?;
    insert(
        &mut transaction,
        project,
        Kind::Run,
        &run.id,
        run_placement(run),
        &body,
    )
    .await?;
    // A queued run must be claimed by its deadline, or it is stranded.
    sqlx::query("UPDATE assistant_objects SET job = $1, lease_expires_at = $3 WHERE id = $2")
        .bind(serde_json::to_string(job)?)
        .bind(&run.id)
        .bind(store.lease_end())
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(RunInsert::Inserted)
}

pub(super) async fn set_run_metadata(
    store: &PostgresStore,
    project: &str,
    run_id: &str,
    metadata: &Map<String, Value>,
) -> StoreResult<()> {
    // Read, changed and written in one transaction (the row locked), so
    // the body keeps its key order (jsonb would sort the keys).
    let mut transaction = super::begin(&store.pool).await?;
    let body: Option<String> = sqlx::query_scalar(
        "SELECT body FROM assistant_objects WHERE id = $1 AND kind = 'run' AND project = $2 FOR UPDATE",
    )
    .bind(run_id)
    .bind(project)
    .fetch_optional(&mut *transaction)
    .await?;
    if let Some(body) = body {
        let mut run: Value = decode(&body)?;
        run["metadata"] = Value::Object(metadata.clone());
        sqlx::query("UPDATE assistant_objects SET body = $1 WHERE id = $2")
            .bind(run.to_string())
            .bind(run_id)
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}

/// Resolves runs whose process stopped (see `fail_expired_runs` and
/// `stranded_queued_runs`): never a live process's runs.
pub(super) async fn recover_runs(store: &PostgresStore, now: i64) -> StoreResult<Vec<String>> {
    fail_expired_runs(store, now).await?;
    stranded_queued_runs(store, now).await
}

/// Fails the running runs whose lease expired before `now` (their process
/// stopped or stalled), with their open steps and messages; the fence moves
/// on so that a stalled owner's late writes are refused. Their ids.
pub(super) async fn fail_expired_runs(store: &PostgresStore, now: i64) -> StoreResult<Vec<String>> {
    let candidates: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM assistant_objects WHERE {EXPIRED_RUN} ORDER BY seq LIMIT 100"
    ))
    .bind(now)
    .fetch_all(&store.pool)
    .await?;
    let mut failed = Vec::new();
    for id in candidates {
        if fail_expired_run(store, &id, now).await? {
            failed.push(id);
        }
    }
    Ok(failed)
}

/// A run whose lease expired before `$1` (`$2`, when given, is its id).
const EXPIRED_RUN: &str = "kind = 'run' AND status IN ('in_progress', 'cancelling')
     AND (lease_expires_at IS NULL OR lease_expires_at < $1)";

/// Fails one expired run, unless another process got there first.
async fn fail_expired_run(store: &PostgresStore, id: &str, now: i64) -> StoreResult<bool> {
    let mut transaction = super::begin(&store.pool).await?;
    let body: Option<String> = sqlx::query_scalar(&format!(
        "SELECT body FROM assistant_objects WHERE {EXPIRED_RUN} AND id = $2 FOR UPDATE SKIP LOCKED"
    ))
    .bind(now)
    .bind(id)
    .fetch_optional(&mut *transaction)
    .await?;
    let Some(body) = body else {
        return Ok(false);
    };
    let mut run: RunObject = decode(&body)?;
    run.status = RunStatus::Failed;
    run.failed_at = Some(now);
    run.expires_at = None;
    run.last_error = Some(last_error("server_error", INTERRUPTED_MESSAGE));
    sqlx::query(
        "UPDATE assistant_objects SET body = $1, status = $2, expires_at = NULL,
                lease_holder = NULL, lease_fence = lease_fence + 1, lease_expires_at = NULL
         WHERE id = $3",
    )
    .bind(serde_json::to_string(&run)?)
    .bind(run.status.as_str())
    .bind(&run.id)
    .execute(&mut *transaction)
    .await?;
    let open = sqlx::query(
        "SELECT id, kind, body FROM assistant_objects
         WHERE run_id = $1 AND kind IN ('step', 'message') AND status = 'in_progress'",
    )
    .bind(&run.id)
    .fetch_all(&mut *transaction)
    .await?;
    for row in open {
        let mut body: Value = decode(row.get::<&str, _>("body"))?;
        let status = end_interrupted_part(row.get::<&str, _>("kind"), &mut body, now);
        sqlx::query("UPDATE assistant_objects SET body = $1, status = $2 WHERE id = $3")
            .bind(body.to_string())
            .bind(status)
            .bind(row.get::<&str, _>("id"))
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(true)
}

/// Queued runs that no process claimed by their deadline (a queued run's
/// `lease_expires_at`, set when it was queued): the process that queued
/// it stopped before starting it.
pub(super) async fn stranded_queued_runs(
    store: &PostgresStore,
    now: i64,
) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM assistant_objects WHERE kind = 'run' AND status = 'queued'
           AND (lease_expires_at IS NULL OR lease_expires_at < $1) ORDER BY seq",
    )
    .bind(now)
    .fetch_all(&store.pool)
    .await?)
}
