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

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::error::{StoreError, StoreResult};
use super::lease::Lease;

/// How long a lease lasts unless renewed (seconds).
pub const LEASE_SECONDS: i64 = 30;

/// Every store over one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…`) and applies migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|error: sqlx::Error| StoreError::Database(error.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
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
