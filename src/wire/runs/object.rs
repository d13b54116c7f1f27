//! The run and run step objects as OpenAI sends them (field order included),
//! the run's statuses, and the usage object runs and steps carry.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::wire::assistants::shared::HasId;
use crate::wire::chat_events::TokenUsage;
use crate::wire::error::ApiError;

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    InProgress,
    RequiresAction,
    Cancelling,
    Cancelled,
    Failed,
    Completed,
    Incomplete,
    Expired,
}

impl RunStatus {
    /// The wire spelling (also the `status` column).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::InProgress => "in_progress",
            Self::RequiresAction => "requires_action",
            Self::Cancelling => "cancelling",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::Completed => "completed",
            Self::Incomplete => "incomplete",
            Self::Expired => "expired",
        }
    }

    /// Whether the run has ended for good.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Cancelled | Self::Failed | Self::Completed | Self::Incomplete | Self::Expired
        )
    }
}

/// A run (`object: "thread.run"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunObject {
    /// `run_…`.
    pub id: String,
    /// Always `thread.run`.
    pub object: String,
    pub created_at: i64,
    pub assistant_id: String,
    pub thread_id: String,
    pub status: RunStatus,
    pub started_at: Option<i64>,
    /// When a run waiting for tool outputs expires; null once it has ended.
    pub expires_at: Option<i64>,
    pub cancelled_at: Option<i64>,
    pub failed_at: Option<i64>,
    pub completed_at: Option<i64>,
    /// `{type: "submit_tool_outputs", submit_tool_outputs: {tool_calls}}` while `requires_action`.
    #[schema(value_type = Option<Object>)]
    pub required_action: Option<Value>,
    /// `{code: server_error | rate_limit_exceeded | invalid_prompt, message}`.
    #[schema(value_type = Option<Object>)]
    pub last_error: Option<Value>,
    pub model: String,
    pub instructions: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub tools: Vec<Value>,
    #[schema(value_type = Object)]
    pub tool_resources: Value,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub reasoning_effort: Option<String>,
    pub max_completion_tokens: Option<u64>,
    pub max_prompt_tokens: Option<u64>,
    /// `{type: auto | last_messages, last_messages}`.
    #[schema(value_type = Object)]
    pub truncation_strategy: Value,
    /// `{reason: max_completion_tokens | max_prompt_tokens}`.
    #[schema(value_type = Option<Object>)]
    pub incomplete_details: Option<Value>,
    /// Null until the run has ended.
    #[schema(value_type = Option<Object>)]
    pub usage: Option<Value>,
    #[schema(value_type = Object)]
    pub response_format: Value,
    #[schema(value_type = Object)]
    pub tool_choice: Value,
    pub parallel_tool_calls: bool,
}

/// A run step (`object: "thread.run.step"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunStepObject {
    /// `step_…`.
    pub id: String,
    /// Always `thread.run.step`.
    pub object: String,
    pub created_at: i64,
    pub run_id: String,
    pub assistant_id: String,
    pub thread_id: String,
    /// `message_creation` or `tool_calls`.
    pub r#type: String,
    /// `in_progress`, `cancelled`, `failed`, `completed` or `expired`.
    pub status: String,
    pub cancelled_at: Option<i64>,
    pub completed_at: Option<i64>,
    /// What OpenAI's API sends (its run's expiry).
    pub expires_at: Option<i64>,
    pub failed_at: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub last_error: Option<Value>,
    /// `{type: "message_creation", message_creation: {message_id}}` or
    /// `{type: "tool_calls", tool_calls: [{id, type: "function", function: {name, arguments, output}}]}`.
    #[schema(value_type = Object)]
    pub step_details: Value,
    /// Null while in progress.
    #[schema(value_type = Option<Object>)]
    pub usage: Option<Value>,
    /// What OpenAI's specification names (when the step expired).
    pub expired_at: Option<i64>,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

impl HasId for RunObject {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for RunStepObject {
    fn id(&self) -> &str {
        &self.id
    }
}

/// The usage object of runs and steps.
pub fn usage_json(usage: TokenUsage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_token_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    })
}

/// Adds two usages.
pub fn add_usage(first: TokenUsage, second: TokenUsage) -> TokenUsage {
    TokenUsage {
        prompt_tokens: first.prompt_tokens + second.prompt_tokens,
        completion_tokens: first.completion_tokens + second.completion_tokens,
        reasoning_tokens: first.reasoning_tokens + second.reasoning_tokens,
        cached_tokens: first.cached_tokens + second.cached_tokens,
    }
}

/// `{code, message}`, a run's or step's `last_error`.
pub fn last_error(code: &str, message: &str) -> Value {
    json!({"code": code, "message": message})
}

/// What the engine keeps about a run between segments, besides the run object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunJob {
    /// Appended to the instructions for this run only.
    #[serde(default)]
    pub additional_instructions: Option<String>,
    /// Tokens used by the segments so far.
    #[serde(default)]
    pub usage: TokenUsage,
    /// The usage of the segment that asked for tool calls (its step's usage).
    #[serde(default)]
    pub pending_tool_usage: Option<TokenUsage>,
    /// The API key that created the run (its kill switch finds the run by
    /// it on any process).
    #[serde(default)]
    pub key_id: Option<String>,
}

/// OpenAI's 404 for an unknown run.
pub fn run_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("No run found with id '{id}'."))
}
