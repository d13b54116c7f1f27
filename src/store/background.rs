//! Storage of background work: the job of a queued response, claiming it for a
//! worker, the event log of background streams, cancelling, and resolving what
//! a crash interrupted.

use sqlx::{Row, SqlitePool};

use crate::wire::responses::object::ResponseObject;

/// A queued background response claimed by a worker.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub response_id: String,
    pub project: String,
    pub body: String,
    pub job: String,
}

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

/// What start-up found and resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Responses that were running when the process died, now `failed`.
    pub interrupted: usize,
    /// Background responses still queued, left for the workers.
    pub queued: usize,
}

/// The message stored on responses a crash interrupted.
pub const INTERRUPTED_MESSAGE: &str =
    "The server stopped while this response was in progress; it did not finish. Create it again.";

/// Marks every response that was `in_progress` when the process died as
/// `failed` (with a clear error, and a closing `response.failed` event in its
/// log), and counts the queued ones the workers will run.
pub async fn recover(pool: &SqlitePool) -> Result<Recovery, sqlx::Error> {
    let rows =
        sqlx::query("SELECT id, body, background FROM responses WHERE status = 'in_progress'")
            .fetch_all(pool)
            .await?;
    let mut recovery = Recovery::default();
    for row in rows {
        let id: String = row.get("id");
        let body: String = row.get("body");
        let background: bool = row.get("background");
        let Ok(mut response) = serde_json::from_str::<ResponseObject>(&body) else {
            continue;
        };
        response.status = crate::wire::responses::object::ResponseStatus::Failed;
        response.error = Some(crate::wire::responses::object::ResponseError {
            code: "server_error".into(),
            message: INTERRUPTED_MESSAGE.into(),
        });
        let body = serde_json::to_string(&response)
            .map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
        sqlx::query("UPDATE responses SET status = 'failed', body = ? WHERE id = ?")
            .bind(&body)
            .bind(&id)
            .execute(pool)
            .await?;
        if background {
            let next: i64 = sqlx::query("SELECT COALESCE(MAX(sequence_number), -1) + 1 AS next FROM response_events WHERE response_id = ?")
                .bind(&id)
                .fetch_one(pool)
                .await?
                .get("next");
            let event = crate::stream::ResponseStreamEvent::Failed {
                response: Box::new(response),
                sequence_number: next as u64,
            };
            let frame = crate::stream::sse::response_event_frame(&event);
            append_events(
                pool,
                &id,
                &[(next as u64, String::from_utf8_lossy(&frame).into_owned())],
            )
            .await?;
        }
        recovery.interrupted += 1;
    }
    let queued: i64 = sqlx::query(
        "SELECT COUNT(*) AS queued FROM responses WHERE status = 'queued' AND background = 1",
    )
    .fetch_one(pool)
    .await?
    .get("queued");
    recovery.queued = queued as usize;
    Ok(recovery)
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
