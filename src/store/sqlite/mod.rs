//! The SQLite store: one file (WAL, busy timeout, foreign keys, migrations
//! applied), a pool for reads and most writes, the writer task that group-
//! commits the hot path's transactions, and the recently finished responses
//! that new turns continue without a read. [`SqliteStore`] implements every
//! trait of the storage seam; each resource's file holds its SQL and its
//! trait implementation. Only this process writes the file, so leases are
//! handed out as [`Lease::sole_owner`](crate::store::lease::Lease::sole_owner)
//! and their fencing tokens are not checked.

pub mod assistants;
pub mod atomic_write;
pub mod background;
pub mod chat_completions;
pub mod conversations;
pub mod database;
pub mod keys;
pub mod recent;
pub mod responses;
pub mod runs;
pub mod threads;
pub mod writer;

use std::path::Path;

use async_trait::async_trait;

use super::error::StoreResult;

/// Every store over one SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: database::Database,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file, applies migrations and
    /// starts the regular checkpoints.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let db = database::open(path).await?;
        database::checkpoint_regularly(db.pool().clone(), database::CHECKPOINT_INTERVAL);
        Ok(Self { db })
    }

    /// The database (for this implementation's own tests and benchmarks).
    pub fn database(&self) -> &database::Database {
        &self.db
    }
}

#[async_trait]
impl crate::store::health::Database for SqliteStore {
    async fn ping(&self) -> bool {
        database::ping(self.db.pool()).await
    }

    async fn close(&self) {
        self.db.close().await;
    }
}
