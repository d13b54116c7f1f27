//! Signals between the processes on one PostgreSQL database: a write that
//! others must hear about sends a `NOTIFY` on the [`CHANNEL`] inside its own
//! transaction (so it is heard only once the write is visible, and never if
//! it rolls back); one connection per process `LISTEN`s and hands what it
//! hears to the process's broadcast channel.
//!
//! A notification can be lost: the listening connection drops, the server
//! restarts. The listener reconnects (every second until it can) and then
//! sends [`Signal::Reconnected`]; every reader also polls what it waits for,
//! so a lost signal costs at most one polling interval.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::broadcast;

use crate::store::error::StoreResult;
use crate::store::shared::Signal;

/// The notification channel of every signal.
pub const CHANNEL: &str = "portico";

/// Sends `signal` to every listening process when the surrounding
/// transaction commits (at once outside one).
pub async fn notify(executor: impl sqlx::PgExecutor<'_>, signal: &Signal) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(signal.encode())
        .execute(executor)
        .await?;
    Ok(())
}

/// Listens on [`CHANNEL`] until the pool closes, reconnecting after a loss.
pub fn spawn_listener(pool: PgPool, signals: broadcast::Sender<Signal>) {
    tokio::spawn(async move {
        while !pool.is_closed() {
            if let Err(error) = listen(&pool, &signals).await {
                if !pool.is_closed() {
                    tracing::warn!(%error, "lost the database's signal connection; reconnecting");
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// One listening connection, until it fails.
async fn listen(pool: &PgPool, signals: &broadcast::Sender<Signal>) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    let _ = signals.send(Signal::Reconnected);
    loop {
        match listener.try_recv().await? {
            Some(notification) => {
                if let Some(signal) = Signal::decode(notification.payload()) {
                    // Nobody listening yet is not an error.
                    let _ = signals.send(signal);
                }
            }
            // The connection was lost (`recv` would reconnect and say nothing
            // of what it missed): start again, and say so.
            None => return Ok(()),
        }
    }
}
