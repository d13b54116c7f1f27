//! A thread named in a path, read for its project: OpenAI's 400 for a bad
//! prefix, 404 for an unknown one.

use crate::engine::state::AppState;
use crate::store::assistants::Kind;
use crate::wire::assistants::shared::check_id;
use crate::wire::error::ApiResult;

use crate::wire::threads::build::thread_not_found;
use crate::wire::threads::object::ThreadObject;

/// The thread, or OpenAI's 400 (bad prefix) / 404.
pub async fn existing_thread(
    state: &AppState,
    project: &str,
    thread_id: &str,
) -> ApiResult<ThreadObject> {
    check_id("thread_id", thread_id, "thread")?;
    state
        .store
        .assistants
        .get(project, Kind::Thread, thread_id, None)
        .await?
        .ok_or_else(|| thread_not_found(thread_id))
}
