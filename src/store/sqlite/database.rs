//! The SQLite database: opening it (WAL, its settings), the pool and the
//! writer every write goes through, the process-wide write lock, regular
//! checkpoints, and the readiness ping.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::{recent, writer};
use crate::store::sqlite::atomic_write::AtomicWrite;

/// The pool; the writer task that runs [`AtomicWrite`](crate::store::sqlite::atomic_write::AtomicWrite)s on a
/// connection of its own; the recently finished stored responses that new
/// turns continue. Dereferences to the pool, for every read and the other
/// writes. Cloning is cheap; the writer stops with the last clone.
#[derive(Debug, Clone)]
pub struct Database {
    pool: SqlitePool,
    writer: writer::Writer,
    pub(super) recent: recent::RecentResponses,
}

impl Database {
    /// Runs `write` as one transaction through the writer (see
    /// [`writer::Writer::write`]).
    pub async fn commit(&self, write: AtomicWrite) -> Result<(), sqlx::Error> {
        self.writer.write(write).await
    }

    /// A database over `pool`, starting its writer (which takes one of the
    /// pool's connections at its first write and keeps it).
    pub fn new(pool: SqlitePool) -> Self {
        let writer = writer::Writer::start(pool.clone());
        Self {
            pool,
            writer,
            recent: recent::RecentResponses::default(),
        }
    }

    /// The pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Stops the writer (after the writes queued so far) and closes the pool
    /// (which waits for every connection, the writer's included).
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

impl std::ops::Deref for Database {
    type Target = SqlitePool;

    fn deref(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Opens (creating if needed) the database file and applies migrations.
pub async fn open(path: &Path) -> Result<Database, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        // Checkpoints run in `checkpoint_regularly`'s task, not in whichever
        // request's commit crossed SQLite's default 1,000 pages (see there);
        // SQLite's own stays as a backstop for a pool without that task.
        .pragma("wal_autocheckpoint", "10000");
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .min_connections(1)
        // sqlx pings a connection before every acquire by default: one more
        // round trip to the connection's thread for every query, for nothing
        // with a local file.
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(Database::new(pool))
}

/// How often the write-ahead log is copied into the database file. Measured
/// at 1,000 stored turns a second (p99 of a turn): every 50 ms 2.2–2.6 ms,
/// 100 ms 2.2–2.4 ms, 200 ms 2.9–3.5 ms, 500 ms 3.8–5.7 ms, SQLite's own
/// (every 1,000 pages, in a request's commit) 5.7–6.3 ms.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// Copies the write-ahead log into the database file every `interval`, from a
/// task of its own. SQLite would otherwise do it inside the commit that grows
/// the log past 1,000 pages — a stall of milliseconds for the request that
/// happens to make that commit. Small, frequent checkpoints keep each one
/// short; a passive checkpoint waits for no one: writers and readers carry on
/// meanwhile.
pub fn checkpoint_regularly(pool: SqlitePool, interval: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                tracing::warn!(%error, "WAL checkpoint failed");
            }
        }
    });
}

/// Whether the database answers.
pub async fn ping(pool: &SqlitePool) -> bool {
    sqlx::query("SELECT 1").execute(pool).await.is_ok()
}
