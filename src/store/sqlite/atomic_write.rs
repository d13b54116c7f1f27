//! One write transaction in one round trip. sqlx runs each SQLite connection
//! on a thread of its own, and every statement is a message to that thread
//! and back: a stored turn written as BEGIN, three INSERTs and COMMIT cost
//! five such hand-offs (measured: a third of the server's CPU at 1,000 stored
//! turns a second went to waking threads). [`AtomicWrite`] gathers the
//! statements, bound in order, into one multi-statement query between
//! `BEGIN IMMEDIATE` and `COMMIT`, sent once by the database's writer (see
//! [`crate::store::sqlite::writer`]), which may send several writes in one transaction; if
//! a statement fails, its write fails and no other write with it.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo};
use sqlx::{Encode, Sqlite, Type};

/// Rows a multi-row `INSERT` carries at most (SQLite allows 32,766 bound
/// values in a statement).
pub const ROWS_PER_INSERT: usize = 500;

/// The statements of one transaction and their values.
#[derive(Default)]
pub struct AtomicWrite {
    /// The statements, each ending in `;`, without `BEGIN` and `COMMIT`.
    pub(super) sql: String,
    /// The values of their `?`s, in order.
    pub(super) values: Vec<SqliteArgumentValue<'static>>,
    /// The first value that could not be encoded.
    pub(super) failure: Option<BoxDynError>,
}

impl AtomicWrite {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
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
        let before = self.values.len();
        match value.encode(&mut self.values) {
            Ok(IsNull::Yes) => self.values.push(SqliteArgumentValue::Null),
            Ok(IsNull::No) => {}
            Err(error) => {
                self.values.truncate(before);
                self.failure.get_or_insert(error);
            }
        }
        self
    }
}

/// A value already encoded for SQLite, bound as it is (the writer moves the
/// values of several writes into one query's arguments).
pub(super) struct Bound(pub SqliteArgumentValue<'static>);

impl Encode<'static, Sqlite> for Bound {
    fn encode(self, buffer: &mut Vec<SqliteArgumentValue<'static>>) -> Result<IsNull, BoxDynError> {
        buffer.push(self.0);
        Ok(IsNull::No)
    }

    fn encode_by_ref(
        &self,
        buffer: &mut Vec<SqliteArgumentValue<'static>>,
    ) -> Result<IsNull, BoxDynError> {
        buffer.push(self.0.clone());
        Ok(IsNull::No)
    }
}

impl Type<Sqlite> for Bound {
    fn type_info() -> SqliteTypeInfo {
        <str as Type<Sqlite>>::type_info()
    }

    /// SQLite takes any value in any column (type affinity).
    fn compatible(_: &SqliteTypeInfo) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::writer::tests::{database, rows};

    #[tokio::test]
    async fn every_statement_lands_in_one_transaction_with_values_in_order() {
        let (_directory, db) = database().await;
        let mut write = AtomicWrite::new();
        write
            .statement("INSERT INTO t (a, b) VALUES (?, ?)")
            .bind("first")
            .bind(1_i64);
        write.insert_rows("t", &["a", "b"], ROWS_PER_INSERT + 2);
        for row in 0..ROWS_PER_INSERT + 2 {
            write.bind(format!("row {row}")).bind(row as i64);
        }
        db.commit(write).await.unwrap();
        assert_eq!(rows(&db).await, ROWS_PER_INSERT as i64 + 3);
        let b: i64 = sqlx::query_scalar("SELECT b FROM t WHERE a = 'row 501'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(b, 501);
        let first: Option<i64> = sqlx::query_scalar("SELECT b FROM t WHERE a = 'first'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(first, Some(1));
    }

    #[tokio::test]
    async fn a_none_is_bound_as_null() {
        let (_directory, db) = database().await;
        let mut write = AtomicWrite::new();
        write
            .statement("INSERT INTO t (a, b) VALUES (?, ?)")
            .bind("nothing")
            .bind(None::<i64>);
        db.commit(write).await.unwrap();
        let null: Option<i64> = sqlx::query_scalar("SELECT b FROM t WHERE a = 'nothing'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(null, None);
    }

    #[tokio::test]
    async fn a_failing_statement_rolls_back_the_others_and_frees_the_connection() {
        let (_directory, db) = database().await;
        let mut write = AtomicWrite::new();
        write
            .statement("INSERT INTO t (a, b) VALUES (?, ?)")
            .bind("kept?")
            .bind(1_i64);
        write
            .statement("INSERT INTO t (a, b) VALUES (?, ?)")
            .bind("kept?")
            .bind(2_i64);
        assert!(db.commit(write).await.is_err(), "a duplicate key fails");
        assert_eq!(rows(&db).await, 0, "the first insert was rolled back");
        // The connection is usable: no transaction was left open on it.
        for round in 0..10_i64 {
            let mut write = AtomicWrite::new();
            write
                .statement("INSERT INTO t (a, b) VALUES (?, ?)")
                .bind(format!("r{round}"))
                .bind(round);
            db.commit(write).await.unwrap();
        }
        assert_eq!(rows(&db).await, 10);
    }
}
