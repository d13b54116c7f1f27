//! The one error of the storage seam. Every store (SQLite today) turns its
//! driver's errors into a [`StoreError`]; the API answers it as a server error
//! (`ApiError::Internal`), or a 503 when the database cannot be reached.

use crate::wire::error::ApiError;

/// Why a store could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or could not be reached (its own words).
    #[error("{0}")]
    Database(String),
    /// The database cannot be reached now (restarting, connections refused
    /// or exhausted): a 503 the client may try again later, not a bug.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A stored body could not be written or read back as JSON.
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A write to running work by an owner whose lease has passed to another
    /// owner (see [`Lease`](super::lease::Lease)): the write was refused.
    #[error("the lease on {0} is no longer this owner's")]
    Fenced(String),
}

/// What every store method answers.
pub type StoreResult<T> = Result<T, StoreError>;

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                Self::Unavailable {
                    message:
                        "The server's database is unavailable right now. Please try again shortly."
                            .into(),
                }
            }
            error => Self::Internal(format!("database: {error}")),
        }
    }
}
