//! One write transaction in one round trip. sqlx runs each SQLite connection
//! on a thread of its own, and every statement is a message to that thread
//! and back: a stored turn written as BEGIN, three INSERTs and COMMIT cost
//! five such hand-offs (measured: a third of the server's CPU at 1,000 stored
//! turns a second went to waking threads). [`AtomicWrite`] gathers the
//! statements, bound in order, into one multi-statement query between
//! `BEGIN IMMEDIATE` and `COMMIT`, sent once; if any statement fails, the
//! transaction is rolled back on the same connection before it goes back to
//! the pool. Writers are queued by the process's write lock (see
//! [`super::write_lock`]).

use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Encode, Sqlite, SqlitePool, Type};

/// Rows a multi-row `INSERT` carries at most (SQLite allows 32,766 bound
/// values in a statement).
pub const ROWS_PER_INSERT: usize = 500;

/// The statements of one transaction and their values.
#[derive(Default)]
pub struct AtomicWrite {
    sql: String,
    arguments: SqliteArguments<'static>,
    failure: Option<sqlx::error::BoxDynError>,
}

impl AtomicWrite {
    /// An empty transaction.
    pub fn new() -> Self {
        Self {
            sql: String::from("BEGIN IMMEDIATE;\n"),
            ..Self::default()
        }
    }

    /// Appends a statement (its `?`s are bound by the next `bind` calls, in order).
    pub fn statement(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self.sql.push_str(";\n");
        self
    }

    /// Appends `INSERT INTO {table} ({columns}) VALUES (?, …), …` for `rows`
    /// rows of as many values as columns (bind them row by row), split into
    /// statements of at most [`ROWS_PER_INSERT`] rows.
    pub fn insert_rows(&mut self, table: &str, columns: &[&str], rows: usize) -> &mut Self {
        let placeholders = format!("({})", vec!["?"; columns.len()].join(", "));
        let mut remaining = rows;
        while remaining > 0 {
            let chunk = remaining.min(ROWS_PER_INSERT);
            let values = vec![placeholders.as_str(); chunk].join(", ");
            self.statement(&format!(
                "INSERT INTO {table} ({}) VALUES {values}",
                columns.join(", ")
            ));
            remaining -= chunk;
        }
        self
    }

    /// Binds the next `?`.
    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'static, Sqlite> + Type<Sqlite> + Send + 'static,
    {
        if let Err(error) = self.arguments.add(value) {
            self.failure.get_or_insert(error);
        }
        self
    }

    /// Runs the transaction.
    pub async fn commit(mut self, pool: &SqlitePool) -> Result<(), sqlx::Error> {
        if let Some(error) = self.failure {
            return Err(sqlx::Error::Encode(error));
        }
        self.sql.push_str("COMMIT;");
        let _writing = super::write_lock().await;
        let mut connection = pool.acquire().await?;
        let written = sqlx::query_with(&self.sql, self.arguments)
            .execute(&mut *connection)
            .await;
        if written.is_err() {
            // Fails harmlessly when SQLite has already rolled back.
            let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
        }
        written.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One connection, so that a transaction left open would be seen.
    async fn pool() -> (tempfile::TempDir, SqlitePool) {
        let directory = tempfile::tempdir().unwrap();
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(directory.path().join("t.db"))
            .create_if_missing(true);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (a TEXT PRIMARY KEY, b INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        (directory, pool)
    }

    async fn rows(pool: &SqlitePool) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn every_statement_lands_in_one_transaction_with_values_in_order() {
        let (_directory, pool) = pool().await;
        let mut write = AtomicWrite::new();
        write
            .statement("INSERT INTO t (a, b) VALUES (?, ?)")
            .bind("first")
            .bind(1_i64);
        write.insert_rows("t", &["a", "b"], ROWS_PER_INSERT + 2);
        for row in 0..ROWS_PER_INSERT + 2 {
            write.bind(format!("row {row}")).bind(row as i64);
        }
        write.commit(&pool).await.unwrap();
        assert_eq!(rows(&pool).await, ROWS_PER_INSERT as i64 + 3);
        let b: i64 = sqlx::query_scalar("SELECT b FROM t WHERE a = 'row 501'")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(b, 501);
    }

    #[tokio::test]
    async fn a_failing_statement_rolls_back_the_others_and_frees_the_connection() {
        let (_directory, pool) = pool().await;
        let mut write = AtomicWrite::new();
        write
            .statement("INSERT INTO t (a, b) VALUES (?, ?)")
            .bind("kept?")
            .bind(1_i64);
        write
            .statement("INSERT INTO t (a, b) VALUES (?, ?)")
            .bind("kept?")
            .bind(2_i64);
        assert!(write.commit(&pool).await.is_err(), "a duplicate key fails");
        assert_eq!(rows(&pool).await, 0, "the first insert was rolled back");
        // The connection is usable: no transaction was left open on it.
        for round in 0..10_i64 {
            let mut write = AtomicWrite::new();
            write
                .statement("INSERT INTO t (a, b) VALUES (?, ?)")
                .bind(format!("r{round}"))
                .bind(round);
            write.commit(&pool).await.unwrap();
        }
        assert_eq!(rows(&pool).await, 10);
    }
}
