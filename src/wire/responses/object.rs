//! The Response object and its output items, as OpenAI sends them. Field order
//! follows OpenAI's own answers so that a stored object reads like theirs; every
//! field OpenAI always sends is always present (null where it has no value).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::wire::error::ApiError;

/// `queued → in_progress → completed | incomplete | failed | cancelled`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStatus {
    Queued,
    #[default]
    InProgress,
    Completed,
    Incomplete,
    Failed,
    Cancelled,
}

impl ResponseStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Incomplete => "incomplete",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether no more output will come.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Incomplete | Self::Failed | Self::Cancelled
        )
    }
}

// `Default` is an empty response (no field allocates): a placeholder for one
// moved elsewhere. A new response starts from `defaults::blank_response`.
/// A Response (`object: "response"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResponseObject {
    pub id: String,
    pub object: String,
    pub created_at: i64,
    pub status: ResponseStatus,
    pub background: bool,
    #[schema(value_type = Object)]
    pub billing: Billing,
    pub completed_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub conversation: Option<Value>,
    pub error: Option<ResponseError>,
    pub frequency_penalty: f64,
    pub incomplete_details: Option<IncompleteDetails>,
    #[schema(value_type = Option<Object>)]
    pub instructions: Option<Value>,
    pub max_output_tokens: Option<u64>,
    pub max_tool_calls: Option<u64>,
    pub model: String,
    #[schema(value_type = Option<Object>)]
    pub moderation: Option<Value>,
    pub output: Vec<OutputItem>,
    pub parallel_tool_calls: bool,
    pub presence_penalty: f64,
    pub previous_response_id: Option<String>,
    pub prompt_cache_key: Option<String>,
    pub prompt_cache_retention: Option<String>,
    #[schema(value_type = Object)]
    pub reasoning: Value,
    pub safety_identifier: Option<String>,
    pub service_tier: String,
    pub store: bool,
    pub temperature: f64,
    #[schema(value_type = Object)]
    pub text: Value,
    #[schema(value_type = Object)]
    pub tool_choice: Value,
    /// Usage of OpenAI's hosted tools: always zero, Portico runs none.
    #[schema(value_type = Object)]
    pub tool_usage: ToolUsage,
    #[schema(value_type = Vec<Object>)]
    pub tools: Vec<Value>,
    pub top_logprobs: u64,
    pub top_p: f64,
    pub truncation: String,
    pub usage: Option<ResponseUsage>,
    pub user: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Not part of the object: when an unkept background response is
    /// deleted (Unix seconds), kept with its row (see `background::retention`).
    #[serde(skip)]
    #[schema(ignore)]
    pub expires_at: Option<i64>,
}

/// `billing`: who pays (always the developer here). Typed rather than a JSON
/// value: every Response carries it and a constant costs no allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Billing {
    pub payer: std::borrow::Cow<'static, str>,
}

impl Default for Billing {
    fn default() -> Self {
        Self {
            payer: std::borrow::Cow::Borrowed("developer"),
        }
    }
}

/// `tool_usage`: what OpenAI's hosted tools used, always zero (Portico runs
/// none). Typed for the same reason as [`Billing`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ToolUsage {
    pub image_gen: ImageGenUsage,
    pub web_search: WebSearchUsage,
}

/// `tool_usage.image_gen`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageGenUsage {
    pub input_tokens: u64,
    pub input_tokens_details: ImageTextTokens,
    pub output_tokens: u64,
    pub output_tokens_details: ImageTextTokens,
    pub total_tokens: u64,
}

/// Image and text token counts of `tool_usage.image_gen`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageTextTokens {
    pub image_tokens: u64,
    pub text_tokens: u64,
}

/// `tool_usage.web_search`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebSearchUsage {
    pub num_requests: u64,
}

/// `error` of a failed response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResponseError {
    pub code: String,
    pub message: String,
}

/// `incomplete_details` of an incomplete response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IncompleteDetails {
    pub reason: String,
}

/// Token counts in Responses terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResponseUsage {
    pub input_tokens: u64,
    pub input_tokens_details: InputTokensDetails,
    pub output_tokens: u64,
    pub output_tokens_details: OutputTokensDetails,
    pub total_tokens: u64,
}

/// `usage.input_tokens_details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InputTokensDetails {
    pub cache_write_tokens: u64,
    pub cached_tokens: u64,
}

/// `usage.output_tokens_details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OutputTokensDetails {
    pub reasoning_tokens: u64,
}

impl From<crate::wire::chat_events::TokenUsage> for ResponseUsage {
    fn from(usage: crate::wire::chat_events::TokenUsage) -> Self {
        Self {
            input_tokens: usage.prompt_tokens,
            input_tokens_details: InputTokensDetails {
                cache_write_tokens: 0,
                cached_tokens: usage.cached_tokens,
            },
            output_tokens: usage.completion_tokens,
            output_tokens_details: OutputTokensDetails {
                reasoning_tokens: usage.reasoning_tokens,
            },
            total_tokens: usage.prompt_tokens + usage.completion_tokens,
        }
    }
}

/// Status of an output item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    InProgress,
    Completed,
    Incomplete,
}

/// An item of `output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    /// The assistant's message.
    Message {
        id: String,
        status: ItemStatus,
        content: Vec<ContentPart>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phase: Option<String>,
        role: String,
    },
    /// A function call for the client to run.
    FunctionCall {
        id: String,
        status: ItemStatus,
        arguments: String,
        call_id: String,
        name: String,
    },
    /// The model's reasoning, as a summary (when asked for) or as reasoning text.
    Reasoning {
        id: String,
        summary: Vec<SummaryPart>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Vec<ContentPart>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<ItemStatus>,
    },
}

impl OutputItem {
    /// The item's id.
    pub fn id(&self) -> &str {
        match self {
            Self::Message { id, .. }
            | Self::FunctionCall { id, .. }
            | Self::Reasoning { id, .. } => id,
        }
    }
}

/// A content part of a message or of reasoning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    OutputText {
        #[schema(value_type = Vec<Object>)]
        annotations: Vec<Value>,
        #[schema(value_type = Vec<Object>)]
        logprobs: Vec<Value>,
        text: String,
    },
    Refusal {
        refusal: String,
    },
    ReasoningText {
        text: String,
    },
}

/// `{"type":"summary_text","text":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename = "summary_text")]
pub struct SummaryPart {
    pub text: String,
}

/// `DELETE /v1/responses/{id}`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeletedResponse {
    pub id: String,
    pub object: String,
    pub deleted: bool,
}

pub fn response_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Response with id '{id}' not found."))
}
