//! Closing items: the closing events of the open item (`*.done`, then
//! `output_item.done` with the final item), appended to the response's output.

use crate::wire::responses::object::{ContentPart, ItemStatus, OutputItem, SummaryPart};

use super::{output_text, OpenItem, ResponseStreamBuilder};
use crate::stream::events::ResponseStreamEvent as Event;

impl ResponseStreamBuilder {
    pub(super) fn reasoning_item(
        &self,
        id: &str,
        text: Option<&str>,
        status: ItemStatus,
    ) -> OutputItem {
        let text = text.unwrap_or_default();
        let (summary, content) = match (self.reasoning_as_summary, status) {
            (true, ItemStatus::InProgress) => (Vec::new(), None),
            (true, _) => (
                vec![SummaryPart {
                    text: text.to_owned(),
                }],
                None,
            ),
            (false, ItemStatus::InProgress) => (Vec::new(), None),
            (false, _) => (
                Vec::new(),
                Some(vec![ContentPart::ReasoningText {
                    text: text.to_owned(),
                }]),
            ),
        };
        OutputItem::Reasoning {
            id: id.to_owned(),
            summary,
            content,
            status: Some(status),
        }
    }

    /// Emits the closing events of the open item and appends it to `output`.
    pub(super) fn close_open(&mut self, status: ItemStatus, events: &mut Vec<Event>) {
        let Some(open) = self.open.take() else {
            return;
        };
        let output_index = self.response.output.len();
        let item = match open {
            OpenItem::Message { id, text } => {
                events.push(Event::OutputTextDone {
                    content_index: 0,
                    item_id: id.clone(),
                    logprobs: Vec::new(),
                    output_index,
                    sequence_number: self.sequence(),
                    text: text.clone(),
                });
                events.push(Event::ContentPartDone {
                    content_index: 0,
                    item_id: id.clone(),
                    output_index,
                    part: output_text(text.clone()),
                    sequence_number: self.sequence(),
                });
                OutputItem::Message {
                    id,
                    status,
                    content: vec![output_text(text)],
                    phase: Some(self.closing_phase.into()),
                    role: "assistant".into(),
                }
            }
            OpenItem::Refusal { id, text } => {
                events.push(Event::RefusalDone {
                    content_index: 0,
                    item_id: id.clone(),
                    output_index,
                    refusal: text.clone(),
                    sequence_number: self.sequence(),
                });
                let part = ContentPart::Refusal { refusal: text };
                events.push(Event::ContentPartDone {
                    content_index: 0,
                    item_id: id.clone(),
                    output_index,
                    part: part.clone(),
                    sequence_number: self.sequence(),
                });
                OutputItem::Message {
                    id,
                    status,
                    content: vec![part],
                    phase: Some(self.closing_phase.into()),
                    role: "assistant".into(),
                }
            }
            OpenItem::FunctionCall {
                id,
                call_id,
                name,
                arguments,
                ..
            } => {
                events.push(Event::FunctionCallArgumentsDone {
                    arguments: arguments.clone(),
                    item_id: id.clone(),
                    name: name.clone(),
                    output_index,
                    sequence_number: self.sequence(),
                });
                OutputItem::FunctionCall {
                    id,
                    status,
                    arguments,
                    call_id,
                    name,
                }
            }
            OpenItem::Reasoning { id, text } => {
                if self.reasoning_as_summary {
                    events.push(Event::ReasoningSummaryTextDone {
                        item_id: id.clone(),
                        output_index,
                        sequence_number: self.sequence(),
                        summary_index: 0,
                        text: text.clone(),
                    });
                    events.push(Event::ReasoningSummaryPartDone {
                        item_id: id.clone(),
                        output_index,
                        part: SummaryPart { text: text.clone() },
                        sequence_number: self.sequence(),
                        summary_index: 0,
                    });
                }
                self.reasoning_item(&id, Some(&text), status)
            }
        };
        events.push(Event::OutputItemDone {
            item: item.clone(),
            output_index,
            sequence_number: self.sequence(),
        });
        self.response.output.push(item);
    }
}
