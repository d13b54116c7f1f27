//! Responses, their items, background jobs and event logs in PostgreSQL.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Postgres, Row, Transaction};

use super::signals::notify;
use super::{fence_of, fenced, lease, PostgresStore};
use crate::store::error::StoreResult;
use crate::store::lease::Lease;
use crate::store::responses::{
    input_items_page, ClaimedJob, Continuation, InProgress, InputItemsPage, ResponseStore,
    StoredResponse, Turn,
};
use crate::store::shared::Signal;
use crate::wire::query::Page;
use crate::wire::responses::object::ResponseObject;

/// The items of the chain ending at `$1` in project `$2`, oldest turn first:
/// each turn's input items, then its output items. Each turn's items are
/// read through the primary key (`LATERAL`, kept apart by `OFFSET 0`):
/// joined whole, the planner, which cannot tell how short a chain is and
/// has no statistics yet on a new table, scanned every item of every
/// response on each turn (measured with EXPLAIN on 40,000 items).
const CHAIN_ITEMS_SQL: &str = "WITH RECURSIVE chain(id, previous, depth) AS (
     SELECT id, previous_response_id, 0 FROM responses WHERE id = $1 AND project = $2
     UNION ALL
     SELECT r.id, r.previous_response_id, chain.depth + 1
     FROM chain JOIN responses r ON r.id = chain.previous
     WHERE r.project = $2
 )
 SELECT i.body FROM chain
 CROSS JOIN LATERAL (SELECT body, side, position FROM response_items
                     WHERE response_id = chain.id OFFSET 0) i
 ORDER BY chain.depth DESC, i.side ASC, i.position ASC";

/// An item's id, if it has one.
fn item_id(item: &Value) -> &str {
    item.get("id").and_then(Value::as_str).unwrap_or_default()
}

/// Inserts one side's items, numbered from 0.
async fn insert_items(
    transaction: &mut Transaction<'_, Postgres>,
    response_id: &str,
    side: &str,
    items: &[Value],
) -> StoreResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut columns = ItemColumns::default();
    columns.add(side, items);
    sqlx::query(
        "INSERT INTO response_items (response_id, side, position, item_id, body)
         SELECT $1, * FROM unnest($2::TEXT[], $3::INT[], $4::TEXT[], $5::TEXT[])",
    )
    .bind(response_id)
    .bind(&columns.sides)
    .bind(&columns.positions)
    .bind(&columns.ids)
    .bind(&columns.bodies)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// Items as columns, for one `unnest` insert of them all (one statement
/// however many items a turn has).
#[derive(Debug, Default)]
struct ItemColumns {
    sides: Vec<String>,
    positions: Vec<i32>,
    ids: Vec<String>,
    bodies: Vec<String>,
}

impl ItemColumns {
    /// One side's items, numbered from 0.
    fn add(&mut self, side: &str, items: &[Value]) {
        for (position, item) in items.iter().enumerate() {
            self.sides.push(side.to_owned());
            self.positions
                .push(i32::try_from(position).unwrap_or(i32::MAX));
            self.ids.push(item_id(item).to_owned());
            self.bodies.push(item.to_string());
        }
    }
}

/// A response's output items as JSON values.
fn output_items(response: &ResponseObject) -> StoreResult<Vec<Value>> {
    response
        .output
        .iter()
        .map(|item| serde_json::to_value(item).map_err(Into::into))
        .collect()
}

/// A response's row, from `$1` to `$13` (see [`bind_row`]).
const INSERT_ROW_SQL: &str =
    "INSERT INTO responses (id, project, previous_response_id, status, model,
                                created_at, background, body, job, expires_at,
                                lease_holder, lease_fence, lease_expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// Binds a response's row to [`INSERT_ROW_SQL`]; it is leased to `holder`
/// until the given time when it runs now.
fn bind_row<'q>(
    query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    project: &'q str,
    response: &'q ResponseObject,
    job: Option<&Value>,
    holder: Option<(&'q str, i64)>,
) -> StoreResult<sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>> {
    Ok(query
        .bind(&response.id)
        .bind(project)
        .bind(&response.previous_response_id)
        .bind(response.status.as_str())
        .bind(&response.model)
        .bind(response.created_at)
        .bind(response.background)
        .bind(serde_json::to_string(response)?)
        .bind(job.map(Value::to_string))
        .bind(response.expires_at)
        .bind(holder.map(|(holder, _)| holder))
        .bind(if holder.is_some() { 1_i64 } else { 0 })
        .bind(holder.map(|(_, until)| until)))
}

/// Inserts a response's row; it is leased to `holder` until the given time
/// when it runs now.
async fn insert_row(
    transaction: &mut Transaction<'_, Postgres>,
    project: &str,
    response: &ResponseObject,
    job: Option<&Value>,
    holder: Option<(&str, i64)>,
) -> StoreResult<()> {
    bind_row(sqlx::query(INSERT_ROW_SQL), project, response, job, holder)?
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

/// Whether `lease` is still the row's; `None` when the response is gone.
async fn holds(
    transaction: &mut Transaction<'_, Postgres>,
    response_id: &str,
    lease: &Lease,
) -> StoreResult<Option<bool>> {
    let fence: Option<i64> =
        sqlx::query_scalar("SELECT lease_fence FROM responses WHERE id = $1 FOR UPDATE")
            .bind(response_id)
            .fetch_optional(&mut **transaction)
            .await?;
    Ok(fence.map(|fence| fence == fence_of(lease)))
}

/// Releases the conversation marks `response_id` holds (it ended without
/// its owner: a takeover or a cancel from another process).
async fn release_marks(
    transaction: &mut Transaction<'_, Postgres>,
    response_id: &str,
) -> StoreResult<()> {
    sqlx::query("UPDATE conversations SET locked_by = NULL WHERE locked_by = $1")
        .bind(response_id)
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

/// The chain's items as stored JSON text.
async fn chain_bodies(
    executor: impl sqlx::PgExecutor<'_>,
    project: &str,
    last_id: &str,
) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(CHAIN_ITEMS_SQL)
        .bind(last_id)
        .bind(project)
        .fetch_all(executor)
        .await?)
}

/// Stores `response` as cancelled if its status is one of `statuses`.
async fn cancel_if(
    store: &PostgresStore,
    response: &ResponseObject,
    statuses: &[&str],
) -> StoreResult<bool> {
    let statuses: Vec<String> = statuses.iter().map(|status| (*status).to_owned()).collect();
    let mut transaction = super::begin(&store.pool).await?;
    // The fence moves on: an owner that stalled past its lease cannot
    // overwrite the cancel with a late end of its own.
    let result = sqlx::query(
        "UPDATE responses SET status = 'cancelled', body = $1, lease_holder = NULL,
                lease_fence = lease_fence + 1, lease_expires_at = NULL
         WHERE id = $2 AND status = ANY($3)",
    )
    .bind(serde_json::to_string(response)?)
    .bind(&response.id)
    .bind(&statuses)
    .execute(&mut *transaction)
    .await?;
    let cancelled = result.rows_affected() > 0;
    if cancelled {
        release_marks(&mut transaction, &response.id).await?;
        notify(&mut *transaction, &Signal::Events(response.id.clone())).await?;
    }
    transaction.commit().await?;
    Ok(cancelled)
}

#[async_trait]
impl ResponseStore for PostgresStore {
    async fn insert_response(
        &self,
        holder: &str,
        project: &str,
        response: &ResponseObject,
        input_items: &[Value],
        job: Option<&Value>,
    ) -> StoreResult<Lease> {
        let runs_now = job.is_none();
        let mut transaction = super::begin(&self.pool).await?;
        insert_row(
            &mut transaction,
            project,
            response,
            job,
            runs_now.then(|| (holder, self.lease_end())),
        )
        .await?;
        insert_items(&mut transaction, &response.id, "input", input_items).await?;
        if !runs_now {
            notify(&mut *transaction, &Signal::WorkQueued).await?;
        }
        transaction.commit().await?;
        Ok(lease(holder, i64::from(runs_now)))
    }

    async fn insert_finished_response(
        &self,
        project: &str,
        response: &ResponseObject,
        input_items: &[Value],
    ) -> StoreResult<()> {
        let mut columns = ItemColumns::default();
        columns.add("input", input_items);
        columns.add("output", &output_items(response)?);
        // One statement, so one round trip: the row and all its items.
        let sql = format!(
            "WITH inserted AS ({INSERT_ROW_SQL} RETURNING id)
             INSERT INTO response_items (response_id, side, position, item_id, body)
             SELECT inserted.id, items.* FROM inserted,
                    unnest($14::TEXT[], $15::INT[], $16::TEXT[], $17::TEXT[]) AS items"
        );
        bind_row(sqlx::query(&sql), project, response, None, None)?
            .bind(&columns.sides)
            .bind(&columns.positions)
            .bind(&columns.ids)
            .bind(&columns.bodies)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn discard_unstarted(&self, id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM responses WHERE id = $1 AND status = 'in_progress'")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn finish_response(
        &self,
        lease: &Lease,
        response: &ResponseObject,
        _turn: Turn<'_>,
    ) -> StoreResult<()> {
        let output = output_items(response)?;
        let mut transaction = super::begin(&self.pool).await?;
        match holds(&mut transaction, &response.id, lease).await? {
            // Deleted while it ran: nothing to store.
            None => return Ok(()),
            Some(false) => return Err(fenced(&response.id)),
            Some(true) => {}
        }
        sqlx::query(
            "UPDATE responses SET status = $1, body = $2, lease_holder = NULL, lease_expires_at = NULL
             WHERE id = $3",
        )
        .bind(response.status.as_str())
        .bind(serde_json::to_string(response)?)
        .bind(&response.id)
        .execute(&mut *transaction)
        .await?;
        if response.background {
            // Its followers on other processes stop at the stored end.
            notify(&mut *transaction, &Signal::Events(response.id.clone())).await?;
        }
        sqlx::query("DELETE FROM response_items WHERE response_id = $1 AND side = 'output'")
            .bind(&response.id)
            .execute(&mut *transaction)
            .await?;
        insert_items(&mut transaction, &response.id, "output", &output).await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn get_response(&self, project: &str, id: &str) -> StoreResult<Option<StoredResponse>> {
        let row = sqlx::query(
            "SELECT body, status, background FROM responses WHERE id = $1 AND project = $2",
        )
        .bind(id)
        .bind(project)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| StoredResponse {
            body: row.get("body"),
            status: row.get("status"),
            background: row.get("background"),
        }))
    }

    async fn delete_response(&self, project: &str, id: &str) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM responses WHERE id = $1 AND project = $2")
            .bind(id)
            .bind(project)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn continuation(&self, project: &str, previous_id: &str) -> StoreResult<Continuation> {
        // No transaction: under READ COMMITTED each statement reads its own
        // snapshot anyway, and BEGIN and COMMIT were two more round trips.
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM responses WHERE id = $1 AND project = $2")
                .bind(previous_id)
                .bind(project)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match status {
            None => Continuation::NotFound,
            Some(status) if status == "queued" || status == "in_progress" => {
                Continuation::Unfinished(status)
            }
            Some(_) => Continuation::Chain(chain_bodies(&self.pool, project, previous_id).await?),
        })
    }

    async fn find_item(&self, project: &str, item_id: &str) -> StoreResult<Option<Value>> {
        let body: Option<String> = sqlx::query_scalar(
            // Each item's response through its primary key (see CHAIN_ITEMS_SQL).
            "SELECT i.body FROM response_items i
             CROSS JOIN LATERAL (SELECT created_at, seq FROM responses
                                 WHERE id = i.response_id AND project = $2 OFFSET 0) r
             WHERE i.item_id = $1
             ORDER BY r.created_at DESC, r.seq DESC LIMIT 1",
        )
        .bind(item_id)
        .bind(project)
        .fetch_optional(&self.pool)
        .await?;
        Ok(body.and_then(|body| serde_json::from_str(&body).ok()))
    }

    async fn list_input_items(&self, page: InputItemsPage<'_>) -> StoreResult<Page<Value>> {
        let mut bodies = match page.previous_response_id {
            Some(previous) => chain_bodies(&self.pool, page.project, previous).await?,
            None => Vec::new(),
        };
        let own: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM response_items WHERE response_id = $1 AND side = 'input' ORDER BY position",
        )
        .bind(page.response_id)
        .fetch_all(&self.pool)
        .await?;
        bodies.extend(own);
        let items = bodies
            .iter()
            .filter_map(|body| serde_json::from_str(body).ok())
            .collect();
        Ok(input_items_page(items, page))
    }

    async fn claim_next(&self, holder: &str) -> StoreResult<Option<ClaimedJob>> {
        let row = sqlx::query(
            "UPDATE responses SET status = 'in_progress', lease_holder = $1,
                    lease_fence = lease_fence + 1, lease_expires_at = $2
             WHERE id = (SELECT id FROM responses
                         WHERE status = 'queued' AND background AND job IS NOT NULL
                         ORDER BY created_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING id, project, body, job, lease_fence",
        )
        .bind(holder)
        .bind(self.lease_end())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| ClaimedJob {
            response_id: row.get("id"),
            project: row.get("project"),
            body: row.get("body"),
            job: row.get("job"),
            lease: lease(holder, row.get("lease_fence")),
        }))
    }

    async fn append_events(
        &self,
        lease: &Lease,
        response_id: &str,
        frames: &[(u64, String)],
        snapshot: Option<&ResponseObject>,
    ) -> StoreResult<()> {
        if frames.is_empty() {
            return Ok(());
        }
        let mut transaction = super::begin(&self.pool).await?;
        if holds(&mut transaction, response_id, lease).await? == Some(false) {
            return Err(fenced(response_id));
        }
        if let Some(snapshot) = snapshot {
            sqlx::query("UPDATE responses SET body = $1 WHERE id = $2 AND status = 'in_progress'")
                .bind(serde_json::to_string(snapshot)?)
                .bind(response_id)
                .execute(&mut *transaction)
                .await?;
        }
        for (sequence_number, frame) in frames {
            sqlx::query(
                "INSERT INTO response_events (response_id, sequence_number, frame) VALUES ($1, $2, $3)
                 ON CONFLICT (response_id, sequence_number) DO UPDATE SET frame = excluded.frame",
            )
            .bind(response_id)
            .bind(*sequence_number as i64)
            .bind(frame)
            .execute(&mut *transaction)
            .await?;
        }
        // One signal per written batch, never per frame.
        notify(&mut *transaction, &Signal::Events(response_id.to_owned())).await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn events_after(
        &self,
        response_id: &str,
        after: Option<u64>,
    ) -> StoreResult<Vec<(u64, String)>> {
        let rows = sqlx::query(
            "SELECT sequence_number, frame FROM response_events
             WHERE response_id = $1 AND sequence_number > $2 ORDER BY sequence_number",
        )
        .bind(response_id)
        .bind(after.map_or(-1, |after| after as i64))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    row.get::<i64, _>("sequence_number") as u64,
                    row.get("frame"),
                )
            })
            .collect())
    }

    async fn cancel_if_queued(&self, response: &ResponseObject) -> StoreResult<bool> {
        cancel_if(self, response, &["queued"]).await
    }

    async fn cancel_if_unfinished(&self, response: &ResponseObject) -> StoreResult<bool> {
        cancel_if(self, response, &["queued", "in_progress"]).await
    }

    async fn unfinished_background(
        &self,
        project: &str,
        key_id: Option<&str>,
    ) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM responses WHERE project = $1 AND background
               AND status IN ('queued', 'in_progress')
               AND ($2::TEXT IS NULL OR (job::JSON ->> 'key_id') = $2)
             ORDER BY created_at, seq",
        )
        .bind(project)
        .bind(key_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn in_progress(&self) -> StoreResult<Vec<InProgress>> {
        let rows = sqlx::query(
            "SELECT id, body, background FROM responses WHERE status = 'in_progress' ORDER BY seq",
        )
        .fetch_all(&self.pool)
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

    async fn settle_interrupted(
        &self,
        response: &ResponseObject,
        closing_frame: Option<(u64, String)>,
    ) -> StoreResult<()> {
        let mut transaction = super::begin(&self.pool).await?;
        // Only while it is still unfinished: a cancel may have ended it first.
        let settled = sqlx::query(
            "UPDATE responses SET status = $1, body = $2, lease_holder = NULL,
                    lease_fence = lease_fence + 1, lease_expires_at = NULL
             WHERE id = $3 AND status IN ('queued', 'in_progress')",
        )
        .bind(response.status.as_str())
        .bind(serde_json::to_string(response)?)
        .bind(&response.id)
        .execute(&mut *transaction)
        .await?;
        if settled.rows_affected() == 0 {
            return Ok(());
        }
        release_marks(&mut transaction, &response.id).await?;
        notify(&mut *transaction, &Signal::Events(response.id.clone())).await?;
        if let Some((sequence_number, frame)) = closing_frame {
            sqlx::query(
                "INSERT INTO response_events (response_id, sequence_number, frame) VALUES ($1, $2, $3)
                 ON CONFLICT (response_id, sequence_number) DO UPDATE SET frame = excluded.frame",
            )
            .bind(&response.id)
            .bind(sequence_number as i64)
            .bind(frame)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn next_event_sequence(&self, response_id: &str) -> StoreResult<u64> {
        let next: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(sequence_number), -1) + 1 FROM response_events WHERE response_id = $1",
        )
        .bind(response_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(next.max(0) as u64)
    }

    async fn count_queued(&self) -> StoreResult<usize> {
        let queued: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM responses WHERE status = 'queued' AND background",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(queued.max(0) as usize)
    }

    async fn delete_expired(&self, now: i64) -> StoreResult<u64> {
        let deleted = sqlx::query(
            "DELETE FROM responses WHERE expires_at IS NOT NULL AND expires_at < $1
               AND status NOT IN ('queued', 'in_progress')",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected())
    }
}
