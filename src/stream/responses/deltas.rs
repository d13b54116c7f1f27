//! The Responses grammar's deltas: text, refusal, reasoning and tool calls each
//! open their kind of item (closing the open one) and stream into it.

use crate::wire::chat_events::ChatEvent;
use crate::wire::ids::new_id;
use crate::wire::responses::object::{ContentPart, ItemStatus, OutputItem, SummaryPart};

use super::{output_text, GrammarError, OpenItem, ResponseStreamBuilder, FINAL_ANSWER};
use crate::stream::events::ResponseStreamEvent as Event;

impl ResponseStreamBuilder {
    /// A backend's normalized chat event, as the grammar's events (`Finish`
    /// and `Usage` produce none: they are used when the response ends).
    pub fn apply(&mut self, event: &ChatEvent) -> Result<Vec<Event>, GrammarError> {
        match event {
            ChatEvent::TextDelta(text) => self.text_delta(text),
            ChatEvent::ReasoningDelta(text) => self.reasoning_delta(text),
            ChatEvent::RefusalDelta(text) => self.refusal_delta(text),
            ChatEvent::ToolCallStart {
                index,
                call_id,
                name,
            } => self.tool_call_start(*index, call_id, name),
            ChatEvent::ToolCallArguments { index, fragment } => {
                self.tool_call_arguments(*index, fragment)
            }
            ChatEvent::Finish(_) | ChatEvent::Usage(_) => Ok(Vec::new()),
        }
    }

    /// Closes the open item and adds a message item with an empty `part`;
    /// returns the new item's id.
    fn open_message(&mut self, part: ContentPart, events: &mut Vec<Event>) -> String {
        self.close_open(ItemStatus::Completed, events);
        let id = new_id("msg_");
        let output_index = self.response.output.len();
        events.push(Event::OutputItemAdded {
            item: OutputItem::Message {
                id: id.clone(),
                status: ItemStatus::InProgress,
                content: Vec::new(),
                phase: Some(FINAL_ANSWER.into()),
                role: "assistant".into(),
            },
            output_index,
            sequence_number: self.sequence(),
        });
        events.push(Event::ContentPartAdded {
            content_index: 0,
            item_id: id.clone(),
            output_index,
            part,
            sequence_number: self.sequence(),
        });
        id
    }

    /// A piece of visible text: opens a message item if none is open.
    pub fn text_delta(&mut self, delta: &str) -> Result<Vec<Event>, GrammarError> {
        self.check_open()?;
        let mut events = Vec::new();
        if !matches!(self.open, Some(OpenItem::Message { .. })) {
            let id = self.open_message(output_text(String::new()), &mut events);
            self.open = Some(OpenItem::Message {
                id,
                text: String::new(),
            });
        }
        let output_index = self.response.output.len();
        let sequence_number = self.sequence();
        let obfuscation = self.obfuscation(delta);
        if let Some(OpenItem::Message { id, text }) = &mut self.open {
            text.push_str(delta);
            events.push(Event::OutputTextDelta {
                content_index: 0,
                delta: delta.to_owned(),
                item_id: id.clone(),
                logprobs: Vec::new(),
                obfuscation,
                output_index,
                sequence_number,
            });
        }
        Ok(events)
    }

    /// A piece of a refusal: opens a message whose content is a refusal part.
    pub fn refusal_delta(&mut self, delta: &str) -> Result<Vec<Event>, GrammarError> {
        self.check_open()?;
        let mut events = Vec::new();
        if !matches!(self.open, Some(OpenItem::Refusal { .. })) {
            let id = self.open_message(
                ContentPart::Refusal {
                    refusal: String::new(),
                },
                &mut events,
            );
            self.open = Some(OpenItem::Refusal {
                id,
                text: String::new(),
            });
        }
        let output_index = self.response.output.len();
        let sequence_number = self.sequence();
        if let Some(OpenItem::Refusal { id, text }) = &mut self.open {
            text.push_str(delta);
            events.push(Event::RefusalDelta {
                content_index: 0,
                delta: delta.to_owned(),
                item_id: id.clone(),
                output_index,
                sequence_number,
            });
        }
        Ok(events)
    }

    /// A piece of reasoning: opens a reasoning item if none is open. Streamed as
    /// summary text when the request asked for a summary; otherwise only kept.
    pub fn reasoning_delta(&mut self, delta: &str) -> Result<Vec<Event>, GrammarError> {
        self.check_open()?;
        let mut events = Vec::new();
        if !matches!(self.open, Some(OpenItem::Reasoning { .. })) {
            self.close_open(ItemStatus::Completed, &mut events);
            let id = new_id("rs_");
            let output_index = self.response.output.len();
            events.push(Event::OutputItemAdded {
                item: self.reasoning_item(&id, None, ItemStatus::InProgress),
                output_index,
                sequence_number: self.sequence(),
            });
            if self.reasoning_as_summary {
                events.push(Event::ReasoningSummaryPartAdded {
                    item_id: id.clone(),
                    output_index,
                    part: SummaryPart {
                        text: String::new(),
                    },
                    sequence_number: self.sequence(),
                    summary_index: 0,
                });
            }
            self.open = Some(OpenItem::Reasoning {
                id,
                text: String::new(),
            });
        }
        let output_index = self.response.output.len();
        let streamed = self.reasoning_as_summary;
        let sequence_number = if streamed { self.sequence() } else { 0 };
        let obfuscation = if streamed {
            self.obfuscation(delta)
        } else {
            None
        };
        if let Some(OpenItem::Reasoning { id, text }) = &mut self.open {
            text.push_str(delta);
            if streamed {
                events.push(Event::ReasoningSummaryTextDelta {
                    delta: delta.to_owned(),
                    item_id: id.clone(),
                    obfuscation,
                    output_index,
                    sequence_number,
                    summary_index: 0,
                });
            }
        }
        Ok(events)
    }

    /// A tool call begins: closes the open item and adds a `function_call` item.
    pub fn tool_call_start(
        &mut self,
        backend_index: u32,
        call_id: &str,
        name: &str,
    ) -> Result<Vec<Event>, GrammarError> {
        self.check_open()?;
        let mut events = Vec::new();
        self.closing_phase = "commentary";
        self.close_open(ItemStatus::Completed, &mut events);
        self.closing_phase = FINAL_ANSWER;
        let id = new_id("fc_");
        events.push(Event::OutputItemAdded {
            item: OutputItem::FunctionCall {
                id: id.clone(),
                status: ItemStatus::InProgress,
                arguments: String::new(),
                call_id: call_id.to_owned(),
                name: name.to_owned(),
            },
            output_index: self.response.output.len(),
            sequence_number: self.sequence(),
        });
        self.open = Some(OpenItem::FunctionCall {
            id,
            call_id: call_id.to_owned(),
            name: name.to_owned(),
            arguments: String::new(),
            backend_index,
        });
        Ok(events)
    }

    /// A fragment of the open tool call's arguments.
    pub fn tool_call_arguments(
        &mut self,
        backend_index: u32,
        fragment: &str,
    ) -> Result<Vec<Event>, GrammarError> {
        self.check_open()?;
        let output_index = self.response.output.len();
        let sequence_number = self.next_sequence;
        let obfuscation = self.obfuscation(fragment);
        match &mut self.open {
            Some(OpenItem::FunctionCall {
                id,
                arguments,
                backend_index: open_index,
                ..
            }) if *open_index == backend_index => {
                arguments.push_str(fragment);
                let event = Event::FunctionCallArgumentsDelta {
                    delta: fragment.to_owned(),
                    item_id: id.clone(),
                    obfuscation,
                    output_index,
                    sequence_number,
                };
                self.next_sequence += 1;
                Ok(vec![event])
            }
            _ => Err(GrammarError::UnknownToolCall(backend_index)),
        }
    }
}
