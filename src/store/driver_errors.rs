//! The database driver's errors (sqlx, for both implementations) as the
//! storage seam's [`StoreError`].

use super::error::StoreError;

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Encode(error) | sqlx::Error::Decode(error) => {
                Self::Database(format!("stored JSON: {error}"))
            }
            error => Self::Database(error.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        Self::Database(format!("migrations: {error}"))
    }
}
