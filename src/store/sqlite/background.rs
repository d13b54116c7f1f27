//! Storage of background work: the job of a queued response, claiming it for a
//! worker, the event log of background streams, cancelling, and what start-up
//! recovery reads and writes.

use sqlx::{Row, SqlitePool};

use crate::store::lease::Lease;
use crate::store::responses::{ClaimedJob, InProgress};
use crate::wire::responses::object::ResponseObject;

/// Atomically moves the oldest queued background response to `in_progress` and
/// returns it. The stored body keeps saying `queued` until the backend has
/// answered and the response's own events take over (pollers see the live
/// snapshot then), as OpenAI shows a response queued until work starts.
///
/// Idle workers call this every second: a read (which never waits for the
/// writer in WAL mode) looks for a queued job first, and only when there is
/// one is the write lock taken, so idle polls do not queue behind or hold up
/// the requests' writes.
pub async fn claim_next(pool: &SqlitePool) -> Result<Option<ClaimedJob>, sqlx::Error> {
    let queued: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM responses WHERE status = 'queued' AND background = 1 AND job IS NOT NULL LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    if queued.is_none() {
        return Ok(None);
    }
    let row = sqlx::query(
        "UPDATE responses SET status = 'in_progress'
         WHERE id = (SELECT id FROM responses WHERE status = 'queued' AND background = 1 AND job IS NOT NULL
                     ORDER BY created_at, rowid LIMIT 1)
           AND status = 'queued'
         RETURNING id, project, body, job",
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| ClaimedJob {
        response_id: row.get("id"),
        project: row.get("project"),
        body: row.get("body"),
        job: row.get("job"),
        lease: Lease::sole_owner(),
    }))
}

/// Appends SSE frames to a response's event log.
pub async fn append_events(
    pool: &SqlitePool,
    response_id: &str,
    frames: &[(u64, String)],
) -> Result<(), sqlx::Error> {
    if frames.is_empty() {
        return Ok(());
    }
    let mut transaction = pool.begin().await?;
    for (sequence_number, frame) in frames {
        sqlx::query("INSERT OR REPLACE INTO response_events (response_id, sequence_number, frame) VALUES (?, ?, ?)")
            .bind(response_id)
            .bind(*sequence_number as i64)
            .bind(frame)
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await
}

/// The stored frames after `after` (all when `None`), in order.
pub async fn events_after(
    pool: &SqlitePool,
    response_id: &str,
    after: Option<u64>,
) -> Result<Vec<(u64, String)>, sqlx::Error> {
    let after = after.map_or(-1, |after| after as i64);
    let rows = sqlx::query(
        "SELECT sequence_number, frame FROM response_events WHERE response_id = ? AND sequence_number > ? ORDER BY sequence_number",
    )
    .bind(response_id)
    .bind(after)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            (
                row.get::<i64, _>("sequence_number") as u64,
                row.get::<String, _>("frame"),
            )
        })
        .collect())
}

/// Cancels a response that no worker has claimed yet; false when it was not queued.
pub async fn cancel_if_queued(
    pool: &SqlitePool,
    response: &ResponseObject,
) -> Result<bool, sqlx::Error> {
    cancel_if(pool, response, "status = 'queued'").await
}

/// Cancels a response that has not ended and that nothing runs (no live
/// entry); false when it has ended meanwhile (its worker finished it
/// between the caller's read and now: its answer stays).
pub async fn cancel_if_unfinished(
    pool: &SqlitePool,
    response: &ResponseObject,
) -> Result<bool, sqlx::Error> {
    cancel_if(pool, response, "status IN ('queued', 'in_progress')").await
}

/// Stores `response` as cancelled if its row matches `condition`.
async fn cancel_if(
    pool: &SqlitePool,
    response: &ResponseObject,
    condition: &str,
) -> Result<bool, sqlx::Error> {
    let body =
        serde_json::to_string(response).map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    let result = sqlx::query(&format!(
        "UPDATE responses SET status = 'cancelled', body = ? WHERE id = ? AND {condition}"
    ))
    .bind(body)
    .bind(&response.id)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Every response stored as `in_progress`.
pub async fn in_progress(pool: &SqlitePool) -> Result<Vec<InProgress>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT id, body, background FROM responses WHERE status = 'in_progress'")
            .fetch_all(pool)
            .await?;
    Ok(rows
        .iter()
        .map(|row| InProgress {
            id: row.get("id"),
            body: row.get("body"),
            background: row.get("background"),
        })
        .collect())
}

/// Stores the ended state of a response whose owner went away and, when
/// given, the closing frame of its event log, in one transaction.
pub async fn settle_interrupted(
    pool: &SqlitePool,
    response: &ResponseObject,
    closing_frame: Option<(u64, String)>,
) -> Result<(), sqlx::Error> {
    let body =
        serde_json::to_string(response).map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    let mut transaction = pool.begin().await?;
    sqlx::query("UPDATE responses SET status = ?, body = ? WHERE id = ?")
        .bind(response.status.as_str())
        .bind(&body)
        .bind(&response.id)
        .execute(&mut *transaction)
        .await?;
    if let Some((sequence_number, frame)) = closing_frame {
        sqlx::query("INSERT OR REPLACE INTO response_events (response_id, sequence_number, frame) VALUES (?, ?, ?)")
            .bind(&response.id)
            .bind(sequence_number as i64)
            .bind(frame)
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await
}

/// The sequence number the next frame of a response's event log takes.
pub async fn next_event_sequence(pool: &SqlitePool, response_id: &str) -> Result<u64, sqlx::Error> {
    let next: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(sequence_number), -1) + 1 FROM response_events WHERE response_id = ?",
    )
    .bind(response_id)
    .fetch_one(pool)
    .await?;
    Ok(next.max(0) as u64)
}

/// How many background responses wait for a worker.
pub async fn count_queued(pool: &SqlitePool) -> Result<usize, sqlx::Error> {
    let queued: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM responses WHERE status = 'queued' AND background = 1",
    )
    .fetch_one(pool)
    .await?;
    Ok(queued.max(0) as usize)
}

/// Deletes the responses whose `expires_at` (Unix seconds) is before `now`
/// (background responses created without `store: true`) and that have
/// ended, with their items and event log. Returns how many were deleted. The
/// first condition is the partial index `responses_expiring`'s, so only such
/// rows are read.
pub async fn delete_expired(pool: &SqlitePool, now: i64) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query(
        "DELETE FROM responses
         WHERE expires_at IS NOT NULL AND expires_at < ?
           AND status NOT IN ('queued', 'in_progress')",
    )
    .bind(now)
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

/// The ids of a project's background responses that are queued or running.
/// One `SELECT` per status, so that each reads its partial index
/// (`responses_queued`, `responses_in_progress`); with `status IN (…)`,
/// SQLite would scan the table.
pub async fn unfinished_background_responses(
    pool: &SqlitePool,
    project: &str,
    key_id: Option<&str>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM responses WHERE project = ?1 AND background = 1 AND status = 'queued'
           AND (?2 IS NULL OR json_extract(job, '$.key_id') = ?2)
         UNION ALL
         SELECT id FROM responses WHERE project = ?1 AND background = 1 AND status = 'in_progress'
           AND (?2 IS NULL OR json_extract(job, '$.key_id') = ?2)",
    )
    .bind(project)
    .bind(key_id)
    .fetch_all(pool)
    .await
}
