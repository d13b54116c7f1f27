//! Storage of threads and their messages (rows of `assistant_objects`):
//! creating a thread with its first messages in one transaction, deleting a
//! thread with everything in it, reading a thread's messages in order for a
//! run's chat history, and finding the run that keeps a thread busy.

use sqlx::{Row, SqlitePool};

use crate::wire::threads::object::{MessageObject, ThreadObject};

use crate::store::assistants::{Kind, Placement};
use crate::store::sqlite::assistants::{decode, encode, insert};

/// Creates a thread with its first messages, all or nothing.
pub async fn create_thread(
    pool: &SqlitePool,
    project: &str,
    thread: &ThreadObject,
    messages: &[MessageObject],
) -> Result<(), sqlx::Error> {
    let mut transaction = pool.begin().await?;
    insert(
        &mut *transaction,
        project,
        Kind::Thread,
        &thread.id,
        Placement::default(),
        &encode(thread)?,
    )
    .await?;
    insert_messages(&mut transaction, project, messages).await?;
    transaction.commit().await
}

/// Inserts messages (in the caller's transaction).
pub async fn insert_messages(
    connection: &mut sqlx::SqliteConnection,
    project: &str,
    messages: &[MessageObject],
) -> Result<(), sqlx::Error> {
    for message in messages {
        insert(
            &mut *connection,
            project,
            Kind::Message,
            &message.id,
            Placement {
                thread_id: Some(&message.thread_id),
                run_id: message.run_id.as_deref(),
                status: Some(&message.status),
                expires_at: None,
            },
            &encode(message)?,
        )
        .await?;
    }
    Ok(())
}

/// Deletes a thread and its messages, runs and steps; false when it did not exist.
pub async fn delete_thread(
    pool: &SqlitePool,
    project: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    let result = sqlx::query(
        "DELETE FROM assistant_objects WHERE id = ? AND kind = 'thread' AND project = ?",
    )
    .bind(id)
    .bind(project)
    .execute(&mut *transaction)
    .await?;
    if result.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM assistant_objects WHERE thread_id = ? AND project = ?")
        .bind(id)
        .bind(project)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(true)
}

/// Deletes what the run `run_id` wrote (the run, its steps and messages)
/// when its thread no longer exists: a run that was still going when its
/// thread was deleted. Returns the number of rows deleted.
pub async fn delete_rows_of_deleted_thread(
    pool: &SqlitePool,
    run_id: &str,
) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query(
        "DELETE FROM assistant_objects
         WHERE (id = ?1 OR run_id = ?1) AND thread_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM assistant_objects t
                           WHERE t.id = assistant_objects.thread_id AND t.kind = 'thread')",
    )
    .bind(run_id)
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

/// Every message of a thread, oldest first.
pub async fn thread_messages(
    pool: &SqlitePool,
    project: &str,
    thread_id: &str,
) -> Result<Vec<MessageObject>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT body FROM assistant_objects WHERE kind = 'message' AND project = ? AND thread_id = ? ORDER BY seq",
    )
    .bind(project)
    .bind(thread_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| decode(row.get::<&str, _>("body")))
        .collect()
}

/// Whether the thread has a message from the user.
pub async fn has_user_message(
    pool: &SqlitePool,
    project: &str,
    thread_id: &str,
) -> Result<bool, sqlx::Error> {
    let found = sqlx::query(
        "SELECT 1 FROM assistant_objects WHERE kind = 'message' AND project = ? AND thread_id = ? \
         AND json_extract(body, '$.role') = 'user' LIMIT 1",
    )
    .bind(project)
    .bind(thread_id)
    .fetch_optional(pool)
    .await?;
    Ok(found.is_some())
}

/// The id of the thread's active run (queued, in progress, requiring action or cancelling), if any.
pub async fn active_run(
    pool: &SqlitePool,
    project: &str,
    thread_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id FROM assistant_objects WHERE kind = 'run' AND project = ? AND thread_id = ?
           AND status IN ('queued', 'in_progress', 'requires_action', 'cancelling')
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(project)
    .bind(thread_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| row.get("id")))
}
