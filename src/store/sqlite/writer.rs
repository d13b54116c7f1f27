//! The single writer of the hot path's transactions ([`AtomicWrite`]s: a
//! response's insert and finish). One task owns one connection and runs the
//! writes queued to it; the writes that queued up while it was busy go out
//! together as one transaction (group commit).
//!
//! Why a task of its own, measured at 1,000 stored turns a second against a
//! connection taken from the pool for each transaction: 90–130 µs less CPU a
//! turn and four to five fewer thread switches. A pooled connection is pinged on its way back to
//! the pool (a message to its thread and back), and its page cache is thrown
//! away whenever another connection has committed; the writer's connection is
//! never returned, and as the one connection writing these tables it finds
//! its cache valid. And a write, once submitted, is carried out even if its
//! caller stops waiting (a client disconnecting while its request is being
//! stored): a query dropped half-way through its statements would otherwise
//! leave its transaction open on the connection.

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteArgumentValue, SqliteArguments};
use sqlx::{Arguments, Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::store::sqlite::atomic_write::{AtomicWrite, Bound};

/// Writes one transaction carries at most.
pub const MOST_WRITES_PER_TRANSACTION: usize = 64;

/// The queue into the writer task. The task ends when the last `Writer`
/// (with the last clone of its [`crate::store::sqlite::database::Database`]) is dropped, or at
/// [`Writer::close`].
#[derive(Debug, Clone)]
pub struct Writer {
    queue: mpsc::UnboundedSender<Queued>,
}

/// What the writer task is asked to do.
enum Queued {
    Write(Submitted),
    /// Commit what came before, give the connection back and stop.
    Close(oneshot::Sender<()>),
}

/// A write and where its outcome goes.
struct Submitted {
    write: AtomicWrite,
    outcome: oneshot::Sender<Result<(), sqlx::Error>>,
}

impl Writer {
    /// Starts the writer task over `pool` (it takes one connection of it,
    /// at its first write, and keeps it).
    pub fn start(pool: SqlitePool) -> Self {
        let (queue, submitted) = mpsc::unbounded_channel();
        tokio::spawn(write_queued(pool, submitted));
        Self { queue }
    }

    /// Runs `write` as one transaction (possibly together with others, all
    /// or nothing for each) and says whether it was committed.
    pub async fn write(&self, mut write: AtomicWrite) -> Result<(), sqlx::Error> {
        if let Some(error) = write.failure.take() {
            return Err(sqlx::Error::Encode(error));
        }
        let (outcome, committed) = oneshot::channel();
        self.queue
            .send(Queued::Write(Submitted { write, outcome }))
            .map_err(|_| sqlx::Error::PoolClosed)?;
        committed.await.map_err(|_| sqlx::Error::PoolClosed)?
    }

    /// Commits the writes queued so far and stops the task, which gives its
    /// connection back to the pool (closing the pool waits for it); later
    /// writes fail with `PoolClosed`.
    pub async fn close(&self) {
        let (closed, done) = oneshot::channel();
        if self.queue.send(Queued::Close(closed)).is_ok() {
            let _ = done.await;
        }
    }
}

async fn write_queued(pool: SqlitePool, mut queue: mpsc::UnboundedReceiver<Queued>) {
    let mut connection: Option<PoolConnection<Sqlite>> = None;
    let mut queued = Vec::with_capacity(MOST_WRITES_PER_TRANSACTION);
    let mut batch = Vec::with_capacity(MOST_WRITES_PER_TRANSACTION);
    while queue
        .recv_many(&mut queued, MOST_WRITES_PER_TRANSACTION)
        .await
        > 0
    {
        let mut closed = None;
        for item in queued.drain(..) {
            match item {
                Queued::Write(submitted) if closed.is_none() => batch.push(submitted),
                // Dropped: its caller gets `PoolClosed`.
                Queued::Write(_) => {}
                Queued::Close(done) => closed = closed.or(Some(done)),
            }
        }
        if !batch.is_empty() {
            connection = write_batch(&pool, connection, &mut batch).await;
        }
        if let Some(done) = closed {
            drop(connection);
            let _ = done.send(());
            return;
        }
    }
}

/// Commits `batch` on `connection` (taken from the pool if there is none) and
/// gives back the connection to keep using.
async fn write_batch(
    pool: &SqlitePool,
    mut connection: Option<PoolConnection<Sqlite>>,
    batch: &mut Vec<Submitted>,
) -> Option<PoolConnection<Sqlite>> {
    // Queued with the other in-process writers of these tables (see
    // `write_lock`).
    let _writing = write_lock().await;
    let writer = match connection.as_mut() {
        Some(writer) => writer,
        None => match pool.acquire().await {
            Ok(acquired) => connection.insert(acquired),
            Err(error) => {
                let message = error.to_string();
                for Submitted { outcome, .. } in batch.drain(..) {
                    let _ = outcome.send(Err(sqlx::Error::Protocol(message.clone())));
                }
                return None;
            }
        },
    };
    if commit_batch(writer, batch).await {
        connection
    } else {
        // After a failure the connection goes back to the pool, which tests
        // it; the next batch takes a connection known to be good.
        None
    }
}

/// Commits every write of `batch` (emptying it) and tells each caller its
/// outcome; false if a write failed. A batch of several writes is tried as one
/// transaction first; if that fails, each write is retried in a transaction
/// of its own, so that one bad write fails alone.
async fn commit_batch(connection: &mut PoolConnection<Sqlite>, batch: &mut Vec<Submitted>) -> bool {
    if batch.len() > 1 {
        let together = transaction(
            batch.iter().map(|submitted| submitted.write.sql.as_str()),
            batch
                .iter()
                .flat_map(|submitted| submitted.write.values.iter().cloned()),
            // A batch's SQL is rarely seen twice: not kept prepared, where it
            // would push out the single writes' statements.
            false,
        );
        if execute(connection, together).await.is_ok() {
            for Submitted { outcome, .. } in batch.drain(..) {
                let _ = outcome.send(Ok(()));
            }
            return true;
        }
    }
    let mut all_committed = true;
    for Submitted { write, outcome } in batch.drain(..) {
        let alone = transaction(
            std::iter::once(write.sql.as_str()),
            write.values.into_iter(),
            true,
        );
        let committed = execute(connection, alone).await;
        all_committed &= committed.is_ok();
        let _ = outcome.send(committed);
    }
    all_committed
}

/// A transaction's SQL and arguments, ready to run.
struct Transaction {
    sql: String,
    arguments: SqliteArguments<'static>,
    /// Whether the connection keeps the statements prepared for next time.
    persistent: bool,
}

/// `statements` between `BEGIN IMMEDIATE` and `COMMIT`, with `values` bound
/// in order.
fn transaction<'w>(
    statements: impl Iterator<Item = &'w str>,
    values: impl Iterator<Item = SqliteArgumentValue<'static>>,
    persistent: bool,
) -> Transaction {
    let mut sql = String::from("BEGIN IMMEDIATE;\n");
    for statement in statements {
        sql.push_str(statement);
    }
    sql.push_str("COMMIT;");
    let mut arguments = SqliteArguments::default();
    for value in values {
        // `Bound` cannot fail to encode.
        let _ = arguments.add(Bound(value));
    }
    Transaction {
        sql,
        arguments,
        persistent,
    }
}

async fn execute(
    connection: &mut PoolConnection<Sqlite>,
    transaction: Transaction,
) -> Result<(), sqlx::Error> {
    let written = sqlx::query_with(&transaction.sql, transaction.arguments)
        .persistent(transaction.persistent)
        .execute(&mut **connection)
        .await;
    if written.is_err() {
        // Fails harmlessly when SQLite has already rolled back.
        let _ = sqlx::query("ROLLBACK").execute(&mut **connection).await;
    }
    written.map(|_| ())
}

/// Serializes the write transactions of the hot path (the writer's, and a
/// run's insert) inside the process. Without it, concurrent writers meet on
/// SQLite's write lock and wait in its busy handler, which sleeps 1, 2, 5,
/// 10… ms between tries (measured at 1,000 stored turns a second: p50 1.3 s,
/// 735 turns a second); in this queue a writer waits only as long as the
/// transactions ahead of it.
pub async fn write_lock() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::sqlite::database::Database;
    use futures::FutureExt;

    /// A database with table `t (a TEXT PRIMARY KEY, b INTEGER)`: two
    /// connections, the writer's and one for reads, so that a transaction
    /// left open on the writer's would be seen by its next write.
    pub(crate) async fn database() -> (tempfile::TempDir, Database) {
        let directory = tempfile::tempdir().unwrap();
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(directory.path().join("t.db"))
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .create_if_missing(true);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (a TEXT PRIMARY KEY, b INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        (directory, Database::new(pool))
    }

    pub(crate) async fn rows(db: &Database) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(db.pool())
            .await
            .unwrap()
    }

    fn insert(a: &str, b: i64) -> AtomicWrite {
        let mut write = AtomicWrite::new();
        write
            .statement("INSERT INTO t (a, b) VALUES (?, ?)")
            .bind(a.to_owned())
            .bind(b);
        write
    }

    #[tokio::test]
    async fn writes_queued_together_commit_each_and_a_failing_one_fails_alone() {
        let (_directory, db) = database().await;
        db.commit(insert("taken", 0)).await.unwrap();
        // All are queued before the writer task runs (this runtime has one
        // thread), so they reach it as one batch.
        let outcomes = futures::future::join_all(
            ["one", "two", "taken", "three"]
                .iter()
                .enumerate()
                .map(|(index, a)| db.commit(insert(a, index as i64 + 1))),
        )
        .await;
        let committed: Vec<bool> = outcomes.iter().map(Result::is_ok).collect();
        assert_eq!(committed, [true, true, false, true]);
        assert_eq!(rows(&db).await, 4, "taken, one, two, three");
        let b: i64 = sqlx::query_scalar("SELECT b FROM t WHERE a = 'taken'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(b, 0, "the failed write changed nothing");
    }

    #[tokio::test]
    async fn a_batch_of_good_writes_commits_them_all() {
        let (_directory, db) = database().await;
        let outcomes = futures::future::join_all(
            (0..MOST_WRITES_PER_TRANSACTION as i64 * 2 + 3)
                .map(|row| db.commit(insert(&format!("r{row}"), row))),
        )
        .await;
        assert!(outcomes.iter().all(Result::is_ok));
        assert_eq!(rows(&db).await, MOST_WRITES_PER_TRANSACTION as i64 * 2 + 3);
    }

    #[tokio::test]
    async fn a_write_whose_caller_stopped_waiting_is_still_committed() {
        let (_directory, db) = database().await;
        let mut abandoned = db.commit(insert("abandoned", 1)).boxed();
        // Polled once, the write is queued; then its caller goes away.
        assert!((&mut abandoned).now_or_never().is_none());
        drop(abandoned);
        db.commit(insert("next", 2)).await.unwrap();
        assert_eq!(rows(&db).await, 2);
    }

    #[tokio::test]
    async fn a_value_that_cannot_be_encoded_fails_its_write_before_it_is_queued() {
        let (_directory, db) = database().await;
        let mut write = insert("bad", 1);
        write.failure = Some("cannot encode".into());
        assert!(matches!(
            db.commit(write).await,
            Err(sqlx::Error::Encode(_))
        ));
        db.commit(insert("good", 2)).await.unwrap();
        assert_eq!(rows(&db).await, 1);
    }

    #[tokio::test]
    async fn closing_commits_what_was_queued_gives_the_connection_back_and_refuses_later_writes() {
        let (_directory, db) = database().await;
        // Both connections open: the writer's and a reader's.
        db.commit(insert("x", 1)).await.unwrap();
        assert_eq!(rows(&db).await, 1);
        let mut queued = db.commit(insert("queued", 2)).boxed();
        assert!((&mut queued).now_or_never().is_none());
        let closed = tokio::time::timeout(std::time::Duration::from_secs(5), db.close()).await;
        assert!(closed.is_ok(), "closing waited for the writer's connection");
        assert!(queued.await.is_ok(), "queued before the close: committed");
        assert!(matches!(
            db.commit(insert("late", 3)).await,
            Err(sqlx::Error::PoolClosed)
        ));
    }
}
