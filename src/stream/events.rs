//! The typed events of a Responses stream. Each serializes to the exact JSON
//! OpenAI sends: `type` first, the other fields in OpenAI's (alphabetical) order,
//! `sequence_number` on every event.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::wire::responses::object::{ContentPart, OutputItem, ResponseObject, SummaryPart};

/// One event of `POST /v1/responses` with `stream: true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ResponseStreamEvent {
    #[serde(rename = "response.created")]
    Created {
        response: Box<ResponseObject>,
        sequence_number: u64,
    },
    #[serde(rename = "response.queued")]
    Queued {
        response: Box<ResponseObject>,
        sequence_number: u64,
    },
    #[serde(rename = "response.in_progress")]
    InProgress {
        response: Box<ResponseObject>,
        sequence_number: u64,
    },
    #[serde(rename = "response.completed")]
    Completed {
        response: Box<ResponseObject>,
        sequence_number: u64,
    },
    #[serde(rename = "response.incomplete")]
    Incomplete {
        response: Box<ResponseObject>,
        sequence_number: u64,
    },
    #[serde(rename = "response.failed")]
    Failed {
        response: Box<ResponseObject>,
        sequence_number: u64,
    },
    #[serde(rename = "response.output_item.added")]
    OutputItemAdded {
        item: OutputItem,
        output_index: usize,
        sequence_number: u64,
    },
    #[serde(rename = "response.output_item.done")]
    OutputItemDone {
        item: OutputItem,
        output_index: usize,
        sequence_number: u64,
    },
    #[serde(rename = "response.content_part.added")]
    ContentPartAdded {
        content_index: usize,
        item_id: String,
        output_index: usize,
        part: ContentPart,
        sequence_number: u64,
    },
    #[serde(rename = "response.content_part.done")]
    ContentPartDone {
        content_index: usize,
        item_id: String,
        output_index: usize,
        part: ContentPart,
        sequence_number: u64,
    },
    #[serde(rename = "response.output_text.delta")]
    OutputTextDelta {
        content_index: usize,
        delta: String,
        item_id: String,
        logprobs: Vec<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        obfuscation: Option<String>,
        output_index: usize,
        sequence_number: u64,
    },
    #[serde(rename = "response.output_text.done")]
    OutputTextDone {
        content_index: usize,
        item_id: String,
        logprobs: Vec<Value>,
        output_index: usize,
        sequence_number: u64,
        text: String,
    },
    #[serde(rename = "response.refusal.delta")]
    RefusalDelta {
        content_index: usize,
        delta: String,
        item_id: String,
        output_index: usize,
        sequence_number: u64,
    },
    #[serde(rename = "response.refusal.done")]
    RefusalDone {
        content_index: usize,
        item_id: String,
        output_index: usize,
        refusal: String,
        sequence_number: u64,
    },
    #[serde(rename = "response.function_call_arguments.delta")]
    FunctionCallArgumentsDelta {
        delta: String,
        item_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        obfuscation: Option<String>,
        output_index: usize,
        sequence_number: u64,
    },
    #[serde(rename = "response.function_call_arguments.done")]
    FunctionCallArgumentsDone {
        arguments: String,
        item_id: String,
        name: String,
        output_index: usize,
        sequence_number: u64,
    },
    #[serde(rename = "response.reasoning_summary_part.added")]
    ReasoningSummaryPartAdded {
        item_id: String,
        output_index: usize,
        part: SummaryPart,
        sequence_number: u64,
        summary_index: usize,
    },
    #[serde(rename = "response.reasoning_summary_part.done")]
    ReasoningSummaryPartDone {
        item_id: String,
        output_index: usize,
        part: SummaryPart,
        sequence_number: u64,
        summary_index: usize,
    },
    #[serde(rename = "response.reasoning_summary_text.delta")]
    ReasoningSummaryTextDelta {
        delta: String,
        item_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        obfuscation: Option<String>,
        output_index: usize,
        sequence_number: u64,
        summary_index: usize,
    },
    #[serde(rename = "response.reasoning_summary_text.done")]
    ReasoningSummaryTextDone {
        item_id: String,
        output_index: usize,
        sequence_number: u64,
        summary_index: usize,
        text: String,
    },
    #[serde(rename = "response.reasoning_text.delta")]
    ReasoningTextDelta {
        content_index: usize,
        delta: String,
        item_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        obfuscation: Option<String>,
        output_index: usize,
        sequence_number: u64,
    },
    #[serde(rename = "response.reasoning_text.done")]
    ReasoningTextDone {
        content_index: usize,
        item_id: String,
        output_index: usize,
        sequence_number: u64,
        text: String,
    },
}

impl ResponseStreamEvent {
    /// The event's `type`, which is also its SSE `event:` name.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Created { .. } => "response.created",
            Self::Queued { .. } => "response.queued",
            Self::InProgress { .. } => "response.in_progress",
            Self::Completed { .. } => "response.completed",
            Self::Incomplete { .. } => "response.incomplete",
            Self::Failed { .. } => "response.failed",
            Self::OutputItemAdded { .. } => "response.output_item.added",
            Self::OutputItemDone { .. } => "response.output_item.done",
            Self::ContentPartAdded { .. } => "response.content_part.added",
            Self::ContentPartDone { .. } => "response.content_part.done",
            Self::OutputTextDelta { .. } => "response.output_text.delta",
            Self::OutputTextDone { .. } => "response.output_text.done",
            Self::RefusalDelta { .. } => "response.refusal.delta",
            Self::RefusalDone { .. } => "response.refusal.done",
            Self::FunctionCallArgumentsDelta { .. } => "response.function_call_arguments.delta",
            Self::FunctionCallArgumentsDone { .. } => "response.function_call_arguments.done",
            Self::ReasoningSummaryPartAdded { .. } => "response.reasoning_summary_part.added",
            Self::ReasoningSummaryPartDone { .. } => "response.reasoning_summary_part.done",
            Self::ReasoningSummaryTextDelta { .. } => "response.reasoning_summary_text.delta",
            Self::ReasoningSummaryTextDone { .. } => "response.reasoning_summary_text.done",
            Self::ReasoningTextDelta { .. } => "response.reasoning_text.delta",
            Self::ReasoningTextDone { .. } => "response.reasoning_text.done",
        }
    }

    /// Whether this event ends the stream.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Completed { .. } | Self::Incomplete { .. } | Self::Failed { .. }
        )
    }

    /// The final response a terminal event carries.
    pub fn terminal_response(&self) -> Option<&crate::wire::responses::object::ResponseObject> {
        match self {
            Self::Completed { response, .. }
            | Self::Incomplete { response, .. }
            | Self::Failed { response, .. } => Some(response),
            _ => None,
        }
    }

    /// The event's `sequence_number`.
    pub fn sequence_number(&self) -> u64 {
        match self {
            Self::Created {
                sequence_number, ..
            }
            | Self::Queued {
                sequence_number, ..
            }
            | Self::InProgress {
                sequence_number, ..
            }
            | Self::Completed {
                sequence_number, ..
            }
            | Self::Incomplete {
                sequence_number, ..
            }
            | Self::Failed {
                sequence_number, ..
            }
            | Self::OutputItemAdded {
                sequence_number, ..
            }
            | Self::OutputItemDone {
                sequence_number, ..
            }
            | Self::ContentPartAdded {
                sequence_number, ..
            }
            | Self::ContentPartDone {
                sequence_number, ..
            }
            | Self::OutputTextDelta {
                sequence_number, ..
            }
            | Self::OutputTextDone {
                sequence_number, ..
            }
            | Self::RefusalDelta {
                sequence_number, ..
            }
            | Self::RefusalDone {
                sequence_number, ..
            }
            | Self::FunctionCallArgumentsDelta {
                sequence_number, ..
            }
            | Self::FunctionCallArgumentsDone {
                sequence_number, ..
            }
            | Self::ReasoningSummaryPartAdded {
                sequence_number, ..
            }
            | Self::ReasoningSummaryPartDone {
                sequence_number, ..
            }
            | Self::ReasoningSummaryTextDelta {
                sequence_number, ..
            }
            | Self::ReasoningSummaryTextDone {
                sequence_number, ..
            }
            | Self::ReasoningTextDelta {
                sequence_number, ..
            }
            | Self::ReasoningTextDone {
                sequence_number, ..
            } => *sequence_number,
        }
    }
}
