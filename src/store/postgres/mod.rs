//! The PostgreSQL store: one database that several Portico processes share.
//! [`PostgresStore`] implements every trait of the storage seam; each
//! aggregate's file holds its SQL. Bodies are the JSON text the client sees
//! (as in SQLite), so that reads are byte for byte what was written.
//!
//! Running work (a response, a run) carries its owner's lease in its row:
//! `lease_holder`, `lease_fence` (grows by one each time the work changes
//! hands) and `lease_expires_at`. A write of the owner carries the fence it
//! was given; a row whose fence moved on refuses it with
//! [`StoreError::Fenced`]. Queued work is claimed with `FOR UPDATE SKIP
//! LOCKED` on its own row, so two processes never take the same job.

pub mod access;
pub mod assistants;
pub mod chat_completions;
pub mod conversations;
pub mod responses;
pub mod runs;
pub mod shared;
pub mod signals;

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio::sync::broadcast;

use super::error::{StoreError, StoreResult};
use super::lease::Lease;
use super::options::OpenOptions;
use super::shared::Signal;

/// Every store over one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// How long a lease lasts unless renewed (seconds).
    lease_seconds: i64,
    /// The signals heard on the database (see [`signals`]).
    signals: broadcast::Sender<Signal>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…`), applies migrations and starts
    /// listening for signals (leases and connections as `options` say).
    pub async fn open(url: &str, options: OpenOptions) -> StoreResult<Self> {
        let lease_seconds = options.lease_seconds;
        let connect: PgConnectOptions = url
            .parse()
            .map_err(|error: sqlx::Error| StoreError::Database(error.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(connect)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let signals = broadcast::channel(1024).0;
        signals::spawn_listener(pool.clone(), signals.clone());
        Ok(Self {
            pool,
            lease_seconds: i64::try_from(lease_seconds.max(1)).unwrap_or(i64::MAX),
            signals,
        })
    }

    /// When a lease given now ends (Unix seconds).
    fn lease_end(&self) -> i64 {
        now() + self.lease_seconds
    }
}

/// Begins a transaction in a task of its own, so that it is begun whole even
/// when the caller is dropped half way (a client that went away): sqlx
/// 0.8's `begin`, cancelled between sending `BEGIN` and reading its answer,
/// returns the connection to the pool inside a transaction that the next
/// user's statements then run in (transact-rs/sqlx#4393). Dropped after
/// this, a transaction is rolled back properly.
async fn begin(pool: &PgPool) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin().await })
        .await
        .map_err(|error| StoreError::Database(format!("beginning a transaction: {error}")))?
        .map_err(Into::into)
}

/// Whether `location` names a PostgreSQL database.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Now, in Unix seconds.
fn now() -> i64 {
    crate::wire::ids::unix_now()
}

/// The refusal of a write whose fence is not the row's.
fn fenced(id: &str) -> StoreError {
    StoreError::Fenced(id.to_owned())
}

/// A lease given to `holder` at `fence`.
fn lease(holder: &str, fence: i64) -> Lease {
    Lease {
        holder: holder.to_owned(),
        fence: u64::try_from(fence).unwrap_or(0),
    }
}

/// A lease's fence as stored.
fn fence_of(lease: &Lease) -> i64 {
    i64::try_from(lease.fence).unwrap_or(i64::MAX)
}

#[async_trait]
impl super::health::Database for PostgresStore {
    async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
