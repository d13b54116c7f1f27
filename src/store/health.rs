//! The database as a whole, behind the [`Database`] trait: whether it
//! answers (readiness) and closing it.

use async_trait::async_trait;

/// The database as a whole: whether it answers, and closing it.
#[async_trait]
pub trait Database: Send + Sync + std::fmt::Debug {
    /// Whether the database answers (readiness).
    async fn ping(&self) -> bool;

    /// Finishes the writes queued so far and closes every connection.
    async fn close(&self);
}
