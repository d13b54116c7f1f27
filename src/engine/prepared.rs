//! A Responses request made ready to run ([`PreparedResponse`]): what the
//! backend is asked, who answers, who owns it, how its events are shown, and
//! the conversation it holds until it ends.

use std::sync::Arc;

use serde_json::Value;

use crate::backends::backend::Backend;
use crate::store::conversations::ConversationStore;
use crate::store::lease::Lease;
use crate::wire::chat_events::ChatRequest;
use crate::wire::responses::object::ResponseObject;

/// Everything needed to run one response.
#[derive(Debug)]
pub struct PreparedResponse {
    /// The response as it starts (no output yet). Boxed: it moves into the
    /// response's builder when it runs, leaving its id behind.
    pub response: Box<ResponseObject>,
    /// The request's own input items, normalized, to store.
    pub input_items: Vec<Value>,
    /// What the backend is asked.
    pub chat: ChatRequest,
    /// Who answers.
    pub backend: Arc<dyn Backend>,
    /// The owner of the response.
    pub project: String,
    /// Whether backend reasoning is shown as a summary (the request asked for one).
    pub reasoning_as_summary: bool,
    /// Whether stream deltas carry `obfuscation` (unless `stream_options.include_obfuscation` is false).
    pub obfuscate: bool,
    /// The conversation this response continues (locked until it ends).
    pub conversation: Option<String>,
    /// The right to write to the stored response while it runs (from its
    /// insert, or its claim by a background worker); `None` while it is not
    /// stored, and for one stored only once finished.
    pub lease: Option<Lease>,
    /// A stored response whose id nobody can know before it ends (neither
    /// streamed nor in the background: the client learns it from the final
    /// JSON) is written once, finished, instead of at its start and again at
    /// its end.
    pub stored_once_finished: bool,
    /// The client reads the events as a stream (`stream: true`); otherwise
    /// only the terminal event, with the final object, is sent to its handler.
    pub streamed: bool,
}

/// Releases the conversation a response held (after an early failure or at its end).
pub async fn release_conversation(
    conversations: &dyn ConversationStore,
    prepared: &PreparedResponse,
) {
    if let Some(conversation_id) = &prepared.conversation {
        unlock_conversation(
            conversations,
            &prepared.project,
            conversation_id,
            &prepared.response.id,
        )
        .await;
    }
}

/// Releases a conversation `response_id` holds (errors are logged: the mark
/// stays until the next start).
pub async fn unlock_conversation(
    conversations: &dyn ConversationStore,
    project: &str,
    conversation_id: &str,
    response_id: &str,
) {
    if let Err(error) = conversations
        .unlock(project, conversation_id, response_id)
        .await
    {
        tracing::error!(%error, %conversation_id, "could not unlock the conversation");
    }
}
