//! The database driver's errors (sqlx, for both implementations) as the
//! storage seam's [`StoreError`].

use super::error::StoreError;

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Encode(error) | sqlx::Error::Decode(error) => {
                Self::Database(format!("stored JSON: {error}"))
            }
            error if is_unavailable(&error) => Self::Unavailable(error.to_string()),
            error => Self::Database(error.to_string()),
        }
    }
}

/// Whether the database could not be reached, as opposed to refusing a
/// statement: no connection (refused, reset, closed, none free in time) or a
/// server shutting down or starting (SQLSTATE classes 08 and 57P).
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(error) => error
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        Self::Database(format!("migrations: {error}"))
    }
}
