//! The storage of the Assistants API's objects — assistants, threads,
//! messages, runs and run steps — and of the runs' lifecycle: storing a new
//! run with its job, claiming it, moving it between statuses only from the one
//! the caller saw. [`AssistantStore`] is the seam (bodies as JSON text); the
//! typed helpers on `dyn AssistantStore` encode and decode them. The SQLite
//! implementation is `store::sqlite`.

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::error::StoreResult;
use super::lease::Lease;
use crate::wire::query::{ListQuery, Page};
use crate::wire::runs::object::{RunJob, RunObject, RunStatus, RunStepObject};
use crate::wire::threads::object::{MessageObject, ThreadObject};

/// Assistants, threads, messages, runs and steps.
#[async_trait]
pub trait AssistantStore: Send + Sync + std::fmt::Debug {
    /// Inserts an object (its body as JSON text).
    async fn insert_object(
        &self,
        project: &str,
        kind: Kind,
        id: &str,
        placement: Placement<'_>,
        body: String,
    ) -> StoreResult<()>;

    /// Replaces an object's body (and status); false when it does not exist.
    async fn update_object(
        &self,
        project: &str,
        kind: Kind,
        id: &str,
        status: Option<&str>,
        body: String,
    ) -> StoreResult<bool>;

    /// Inserts an object or replaces its body and status. The run's owner
    /// stores its messages and steps this way as they happen, under its
    /// `lease`; a writer that owns no run passes `None`.
    async fn upsert_object(
        &self,
        lease: Option<&Lease>,
        project: &str,
        kind: Kind,
        id: &str,
        placement: Placement<'_>,
        body: String,
    ) -> StoreResult<()>;

    /// An object's JSON of `project`, optionally required to sit in `thread_id`.
    async fn get_object(
        &self,
        project: &str,
        kind: Kind,
        id: &str,
        thread_id: Option<&str>,
    ) -> StoreResult<Option<String>>;

    /// Deletes an object; false when it did not exist in `project`.
    async fn delete_object(
        &self,
        project: &str,
        kind: Kind,
        id: &str,
        thread_id: Option<&str>,
    ) -> StoreResult<bool>;

    /// A page of objects (JSON text) of one kind, filtered by thread and run
    /// when given, in creation order; `after`/`before` are ids of the same
    /// list (an unknown cursor gives an empty page).
    async fn list_objects(
        &self,
        project: &str,
        kind: Kind,
        thread_id: Option<&str>,
        run_id: Option<&str>,
        query: &ListQuery,
    ) -> StoreResult<Page<String>>;

    /// Creates a thread with its first messages, all or nothing.
    async fn create_thread(
        &self,
        project: &str,
        thread: &ThreadObject,
        messages: &[MessageObject],
    ) -> StoreResult<()>;

    /// Deletes a thread with its messages, runs and steps; false when it did
    /// not exist in `project`.
    async fn delete_thread(&self, project: &str, id: &str) -> StoreResult<bool>;

    /// Deletes what a run wrote after its thread was deleted; how many rows.
    async fn delete_rows_of_deleted_thread(&self, run_id: &str) -> StoreResult<u64>;

    /// Every message of a thread, oldest first.
    async fn thread_messages(
        &self,
        project: &str,
        thread_id: &str,
    ) -> StoreResult<Vec<MessageObject>>;

    /// Whether a thread has a message with role `user`.
    async fn has_user_message(&self, project: &str, thread_id: &str) -> StoreResult<bool>;

    /// The id of a thread's run that has not ended, if any.
    async fn active_run(&self, project: &str, thread_id: &str) -> StoreResult<Option<String>>;

    /// Stores a queued run with its job, and (create-thread-and-run) its new
    /// thread, and its messages, all or nothing; nothing when the thread
    /// already has an active run.
    async fn insert_run(&self, new_run: NewRun<'_>) -> StoreResult<RunInsert>;

    /// Claims a queued (or cancelling, not yet started) run for `holder`: it
    /// moves to `in_progress`; `None` when someone else has it.
    async fn claim_run(&self, holder: &str, run_id: &str) -> StoreResult<Option<ClaimedRun>>;

    /// Stores a run's body and status (and its job, when given), as the
    /// holder of `lease`.
    async fn save_run(
        &self,
        lease: &Lease,
        project: &str,
        run: &RunObject,
        job: Option<&RunJob>,
    ) -> StoreResult<()>;

    /// Stores a run only if it is still in one of the statuses `from`; false
    /// when it moved on.
    async fn transition(
        &self,
        project: &str,
        run: &RunObject,
        from: &[RunStatus],
    ) -> StoreResult<bool>;

    /// A run's job.
    async fn run_job(&self, run_id: &str) -> StoreResult<RunJob>;

    /// Every step of a run, oldest first.
    async fn run_steps(&self, project: &str, run_id: &str) -> StoreResult<Vec<RunStepObject>>;

    /// Runs waiting (for tool outputs or a worker) whose `expires_at` has
    /// passed: (project, run).
    async fn due_for_expiry(&self, now: i64) -> StoreResult<Vec<(String, RunObject)>>;

    /// Replaces a run's metadata (only that field changes).
    async fn set_run_metadata(
        &self,
        project: &str,
        run_id: &str,
        metadata: &Map<String, Value>,
    ) -> StoreResult<()>;

    /// A project's runs that have not ended, as (run id, thread id); only
    /// those created with the API key `key_id`, when given.
    async fn unfinished_runs(
        &self,
        project: &str,
        key_id: Option<&str>,
    ) -> StoreResult<Vec<(String, String)>>;

    /// Start-up of the only process: marks the runs it left running
    /// (`in_progress`, `cancelling`) failed with [`INTERRUPTED_MESSAGE`],
    /// their open steps failed and open messages incomplete; the ids of the
    /// queued runs, which start again.
    async fn recover_runs(&self, now: i64) -> StoreResult<Vec<String>>;
}

/// The message stored on runs a crash interrupted.
pub const INTERRUPTED_MESSAGE: &str =
    "The server stopped while this run was in progress; it did not finish. Create a new run.";

/// Typed reads and writes over the JSON bodies.
impl dyn AssistantStore {
    /// Inserts an object.
    pub async fn insert<T: Serialize + Sync>(
        &self,
        project: &str,
        kind: Kind,
        id: &str,
        placement: Placement<'_>,
        body: &T,
    ) -> StoreResult<()> {
        let body = serde_json::to_string(body)?;
        self.insert_object(project, kind, id, placement, body).await
    }

    /// Replaces an object's body (and status); false when it does not exist.
    pub async fn update<T: Serialize + Sync>(
        &self,
        project: &str,
        kind: Kind,
        id: &str,
        status: Option<&str>,
        body: &T,
    ) -> StoreResult<bool> {
        let body = serde_json::to_string(body)?;
        self.update_object(project, kind, id, status, body).await
    }

    /// Inserts an object or replaces it (see [`AssistantStore::upsert_object`]).
    pub async fn upsert<T: Serialize + Sync>(
        &self,
        lease: Option<&Lease>,
        project: &str,
        kind: Kind,
        id: &str,
        placement: Placement<'_>,
        body: &T,
    ) -> StoreResult<()> {
        let body = serde_json::to_string(body)?;
        self.upsert_object(lease, project, kind, id, placement, body)
            .await
    }

    /// An object of `project`, optionally required to sit in `thread_id`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        project: &str,
        kind: Kind,
        id: &str,
        thread_id: Option<&str>,
    ) -> StoreResult<Option<T>> {
        match self.get_object(project, kind, id, thread_id).await? {
            Some(body) => Ok(Some(serde_json::from_str(&body)?)),
            None => Ok(None),
        }
    }

    /// A page of objects (see [`AssistantStore::list_objects`]).
    pub async fn list<T: DeserializeOwned>(
        &self,
        project: &str,
        kind: Kind,
        thread_id: Option<&str>,
        run_id: Option<&str>,
        query: &ListQuery,
    ) -> StoreResult<Page<T>> {
        let page = self
            .list_objects(project, kind, thread_id, run_id, query)
            .await?;
        Ok(Page {
            items: page
                .items
                .iter()
                .map(|body| serde_json::from_str(body))
                .collect::<Result<_, _>>()?,
            has_more: page.has_more,
        })
    }
}

/// Which kind of object a row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Assistant,
    Thread,
    Message,
    Run,
    Step,
}

impl Kind {
    /// Its name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assistant => "assistant",
            Self::Thread => "thread",
            Self::Message => "message",
            Self::Run => "run",
            Self::Step => "step",
        }
    }
}

/// Where a new object belongs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Placement<'a> {
    pub thread_id: Option<&'a str>,
    pub run_id: Option<&'a str>,
    pub status: Option<&'a str>,
    pub expires_at: Option<i64>,
}

/// The placement of a run.
/// Ends an open step or message (`kind`, its stored `body`) of a run that
/// was interrupted at `now`: a step fails with [`INTERRUPTED_MESSAGE`], a
/// message ends incomplete. Its new status.
pub fn end_interrupted_part(kind: &str, body: &mut Value, now: i64) -> &'static str {
    if kind == "step" {
        body["status"] = "failed".into();
        body["failed_at"] = now.into();
        body["last_error"] =
            crate::wire::runs::object::last_error("server_error", INTERRUPTED_MESSAGE);
        "failed"
    } else {
        body["status"] = "incomplete".into();
        body["incomplete_at"] = now.into();
        body["incomplete_details"] = serde_json::json!({"reason": "run_failed"});
        "incomplete"
    }
}

pub fn run_placement(run: &RunObject) -> Placement<'_> {
    Placement {
        thread_id: Some(&run.thread_id),
        run_id: Some(&run.id),
        status: Some(run.status.as_str()),
        expires_at: run.expires_at,
    }
}

/// A new run and what comes with it (see [`AssistantStore::insert_run`]).
#[derive(Debug, Clone, Copy)]
pub struct NewRun<'a> {
    pub project: &'a str,
    pub run: &'a RunObject,
    pub job: &'a RunJob,
    /// The thread created with it (create-thread-and-run).
    pub thread: Option<&'a ThreadObject>,
    /// Its thread's new messages.
    pub messages: &'a [MessageObject],
}

/// What [`AssistantStore::insert_run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunInsert {
    Inserted,
    /// The thread already has this active run: nothing was written.
    ThreadBusy(String),
}

/// A run claimed by the task that executes it.
#[derive(Debug, Clone)]
pub struct ClaimedRun {
    pub project: String,
    pub run: RunObject,
    pub job: RunJob,
    /// True when a cancel arrived before the run started.
    pub cancel_requested: bool,
    /// The executor's right to write to it.
    pub lease: Lease,
}
