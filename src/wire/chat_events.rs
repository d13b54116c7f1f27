//! What a backend is asked and what it answers, in one normalized vocabulary:
//! a chat request in Chat Completions terms and the events every backend's
//! answer is translated into (text, reasoning, refusal and tool-call pieces,
//! the finish reason, token counts). The engine, the event grammars and the
//! Chat Completions pipeline all speak it; only `backends/` speaks each
//! server's own format.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A chat request in OpenAI Chat Completions terms, built by the engine.
/// Messages and tools are kept as JSON: they are passed to the backend as given.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// How hard a reasoning model should think (`reasoning.effort` of a
    /// response, a run's `reasoning_effort`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// The caller needs only the whole answer (a foreground response the
    /// client does not stream): an HTTP backend is asked for it in one piece
    /// instead of token by token, which spares a hand-off between tasks per
    /// token. Not sent to the backend; part of the generation cache's key.
    #[serde(skip)]
    pub whole_answer: bool,
}

/// Why the backend stopped generating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

impl FinishReason {
    /// Parses an OpenAI-style `finish_reason` (unknown values count as `stop`).
    pub fn from_wire(reason: &str) -> Self {
        match reason {
            "length" | "max_tokens" => Self::Length,
            "tool_calls" | "function_call" => Self::ToolCalls,
            "content_filter" => Self::ContentFilter,
            _ => Self::Stop,
        }
    }

    /// The Chat Completions spelling.
    pub fn as_wire(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
        }
    }
}

/// Token counts as a backend reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    #[serde(default)]
    pub reasoning_tokens: u64,
    #[serde(default)]
    pub cached_tokens: u64,
}

/// One normalized event of a backend's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// A piece of the assistant's visible text.
    TextDelta(String),
    /// A piece of the model's reasoning (`reasoning_content` / `reasoning`).
    ReasoningDelta(String),
    /// A piece of a refusal (Chat's `delta.refusal`).
    RefusalDelta(String),
    /// A tool call begins. `index` is the backend's call index.
    ToolCallStart {
        index: u32,
        call_id: String,
        name: String,
    },
    /// A fragment of a tool call's JSON arguments.
    ToolCallArguments { index: u32, fragment: String },
    /// Generation ended.
    Finish(FinishReason),
    /// Token counts (may come before or after `Finish`).
    Usage(TokenUsage),
}

/// About four characters a token: the documented estimate used where no tokenizer is known.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}
