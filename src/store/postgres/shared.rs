//! What the processes on one PostgreSQL database coordinate through it (see
//! `store::shared`): lease renewal and takeover, cancels of work another
//! process runs, revoked keys, and the rate windows of limited keys.
//!
//! Rate windows are rows of `rate_events` (one per counted request, one per
//! finished response's tokens), timed by the database's clock. A key's
//! admission takes a transaction-scoped advisory lock on the key, drops what
//! left the window, reads what is in it and counts the request only when
//! neither limit is reached: two processes admitting the same key at once
//! queue on the lock, so a limit of 10 is 10 across all of them.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};
use tokio::sync::broadcast;

use super::signals::notify;
use super::{lease, now, runs, PostgresStore};
use crate::store::error::StoreResult;
use crate::store::shared::{RateEntry, RateLimitsAt, RateWindows, SharedStore, Signal, TakenOver};

/// The database's clock in milliseconds, as SQL.
const NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

fn amount(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A window's entries (oldest first) after dropping those older than it.
async fn window(
    transaction: &mut Transaction<'_, Postgres>,
    key_id: &str,
    kind: &str,
    now_ms: i64,
    window_ms: i64,
) -> StoreResult<Vec<RateEntry>> {
    sqlx::query("DELETE FROM rate_events WHERE key_id = $1 AND kind = $2 AND at_ms <= $3")
        .bind(key_id)
        .bind(kind)
        .bind(now_ms - window_ms)
        .execute(&mut **transaction)
        .await?;
    let rows = sqlx::query(
        "SELECT at_ms, amount FROM rate_events WHERE key_id = $1 AND kind = $2 ORDER BY at_ms",
    )
    .bind(key_id)
    .bind(kind)
    .fetch_all(&mut **transaction)
    .await?;
    Ok(rows.iter().map(entry).collect())
}

fn entry(row: &PgRow) -> RateEntry {
    (
        row.get("at_ms"),
        u64::try_from(row.get::<i64, _>("amount")).unwrap_or(0),
    )
}

/// The sum of a window's amounts.
fn used(entries: &[RateEntry]) -> u64 {
    entries.iter().map(|(_, amount)| amount).sum()
}

/// Serializes the rate-window work on one key across processes until the
/// transaction ends.
async fn lock_key(transaction: &mut Transaction<'_, Postgres>, key_id: &str) -> StoreResult<i64> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('portico-rate:' || $1))")
        .bind(key_id)
        .execute(&mut **transaction)
        .await?;
    Ok(sqlx::query_scalar(&format!("SELECT {NOW_MS}"))
        .fetch_one(&mut **transaction)
        .await?)
}

#[async_trait]
impl SharedStore for PostgresStore {
    fn signals(&self) -> broadcast::Receiver<Signal> {
        self.signals.subscribe()
    }

    fn lease_length(&self) -> Duration {
        Duration::from_secs(u64::try_from(self.lease_seconds).unwrap_or(1))
    }

    async fn renew_leases(&self, holder: &str) -> StoreResult<u64> {
        let until = self.lease_end();
        let responses = sqlx::query(
            "UPDATE responses SET lease_expires_at = $2
             WHERE lease_holder = $1 AND status = 'in_progress'",
        )
        .bind(holder)
        .bind(until)
        .execute(&self.pool)
        .await?;
        let runs = sqlx::query(
            "UPDATE assistant_objects SET lease_expires_at = $2
             WHERE lease_holder = $1 AND kind = 'run' AND status IN ('in_progress', 'cancelling')",
        )
        .bind(holder)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(responses.rows_affected() + runs.rows_affected())
    }

    async fn take_over_expired_responses(&self, holder: &str) -> StoreResult<Vec<TakenOver>> {
        let rows = sqlx::query(
            "UPDATE responses SET lease_holder = $1, lease_fence = lease_fence + 1,
                    lease_expires_at = $2
             WHERE id IN (SELECT id FROM responses
                          WHERE status = 'in_progress'
                            AND (lease_expires_at IS NULL OR lease_expires_at < $3)
                          ORDER BY lease_expires_at LIMIT 100 FOR UPDATE SKIP LOCKED)
             RETURNING id, body, background, lease_fence",
        )
        .bind(holder)
        .bind(self.lease_end())
        .bind(now())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| TakenOver {
                id: row.get("id"),
                body: row.get("body"),
                background: row.get("background"),
                lease: lease(holder, row.get("lease_fence")),
            })
            .collect())
    }

    async fn fail_expired_runs(&self, now: i64) -> StoreResult<Vec<String>> {
        runs::fail_expired_runs(self, now).await
    }

    async fn stranded_queued_runs(&self, now: i64) -> StoreResult<Vec<String>> {
        runs::stranded_queued_runs(self, now).await
    }

    async fn release_stranded_locks(&self, now: i64) -> StoreResult<u64> {
        let released = sqlx::query(
            "UPDATE conversations c SET locked_by = NULL
             WHERE locked_by IS NOT NULL AND (locked_at IS NULL OR locked_at < $1)
               AND NOT EXISTS (SELECT 1 FROM responses r
                               WHERE r.id = c.locked_by AND r.status IN ('queued', 'in_progress'))",
        )
        .bind(now - self.lease_seconds)
        .execute(&self.pool)
        .await?;
        Ok(released.rows_affected())
    }

    async fn request_cancel(&self, id: &str) -> StoreResult<bool> {
        let mut transaction = super::begin(&self.pool).await?;
        let response = sqlx::query(
            "UPDATE responses SET cancel_requested = TRUE
             WHERE id = $1 AND status = 'in_progress' AND lease_expires_at >= $2",
        )
        .bind(id)
        .bind(now())
        .execute(&mut *transaction)
        .await?;
        let run: Option<String> = sqlx::query_scalar(
            "SELECT id FROM assistant_objects WHERE id = $1 AND kind = 'run'
               AND status IN ('in_progress', 'cancelling') AND lease_expires_at >= $2",
        )
        .bind(id)
        .bind(now())
        .fetch_optional(&mut *transaction)
        .await?;
        let owned = response.rows_affected() > 0 || run.is_some();
        if owned {
            notify(&mut *transaction, &Signal::Cancel(id.to_owned())).await?;
        }
        transaction.commit().await?;
        Ok(owned)
    }

    async fn cancels_requested(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_scalar(
            "SELECT id FROM responses WHERE id = ANY($1) AND cancel_requested
             UNION ALL
             SELECT id FROM assistant_objects WHERE id = ANY($1) AND kind = 'run' AND status = 'cancelling'",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn keys_revoked_since(&self, since: i64) -> StoreResult<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT key_hash FROM api_keys WHERE revoked_at >= $1")
                .bind(since)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn admit_request(&self, key_id: &str, limits: RateLimitsAt) -> StoreResult<RateWindows> {
        let mut transaction = super::begin(&self.pool).await?;
        let now_ms = lock_key(&mut transaction, key_id).await?;
        let mut requests = match limits.requests {
            Some(_) => {
                window(
                    &mut transaction,
                    key_id,
                    "requests",
                    now_ms,
                    limits.window_ms,
                )
                .await?
            }
            None => Vec::new(),
        };
        let tokens = match limits.tokens {
            Some(_) => window(&mut transaction, key_id, "tokens", now_ms, limits.window_ms).await?,
            None => Vec::new(),
        };
        let under = |limit: Option<u64>, entries: &[RateEntry]| {
            limit.is_none_or(|limit| used(entries) < limit)
        };
        let counted = under(limits.requests, &requests) && under(limits.tokens, &tokens);
        if counted && limits.requests.is_some() {
            sqlx::query(
                "INSERT INTO rate_events (key_id, kind, at_ms, amount) VALUES ($1, 'requests', $2, 1)",
            )
            .bind(key_id)
            .bind(now_ms)
            .execute(&mut *transaction)
            .await?;
            requests.push((now_ms, 1));
        }
        transaction.commit().await?;
        Ok(RateWindows {
            now_ms,
            requests,
            tokens,
            counted,
        })
    }

    async fn add_rate_tokens(&self, key_id: &str, window_ms: i64, tokens: u64) -> StoreResult<()> {
        // What left the window goes in the same statement: a key without a
        // token limit (never admitted against one) keeps one window's rows.
        sqlx::query(&format!(
            "WITH gone AS (DELETE FROM rate_events
                           WHERE key_id = $1 AND kind = 'tokens' AND at_ms <= {NOW_MS} - $3)
             INSERT INTO rate_events (key_id, kind, at_ms, amount) VALUES ($1, 'tokens', {NOW_MS}, $2)"
        ))
        .bind(key_id)
        .bind(amount(tokens))
        .bind(window_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
