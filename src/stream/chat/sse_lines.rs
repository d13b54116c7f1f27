//! A line-level server-sent-events decoder for relaying a backend's stream.
//!
//! Bytes go in as they arrive; complete lines come out as comments or, at each
//! blank line, as events. Lines end with LF, CRLF or a lone CR (also when a CRLF
//! is split between two reads). `data:` lines are joined with `\n`; one space
//! after the colon is dropped; `event:`, `id:` and `retry:` are kept so that they
//! can be written back; other fields are ignored, as the SSE specification says.
//! Unlike eventsource-stream, comments (`: keep-alive`) are kept, so a relay can
//! pass them on, and an event the backend did not end with a blank line is still
//! dispatched by [`SseDecoder::finish`].

use bytes::Bytes;

/// What the decoder read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// A comment line, without its leading colon.
    Comment(String),
    /// An event with at least one `data:` line.
    Event(SseEvent),
}

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, when the backend sent one.
    pub event: Option<String>,
    /// The `id:` field, when sent with this event.
    pub id: Option<String>,
    /// The `retry:` field, when sent with this event.
    pub retry: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

impl SseEvent {
    /// This event's frame with `data` in place of its own (one `data:` line per
    /// line of `data`), ending with the blank line.
    pub fn frame_with(&self, data: &str) -> Bytes {
        let mut frame = String::with_capacity(data.len() + 16);
        for (field, value) in [
            ("event", &self.event),
            ("id", &self.id),
            ("retry", &self.retry),
        ] {
            if let Some(value) = value {
                frame.push_str(field);
                frame.push_str(": ");
                frame.push_str(value);
                frame.push('\n');
            }
        }
        for line in data.split('\n') {
            frame.push_str("data: ");
            frame.push_str(line);
            frame.push('\n');
        }
        frame.push('\n');
        Bytes::from(frame)
    }
}

/// A comment's frame: `:<text>` and a blank line.
pub fn comment_frame(text: &str) -> Bytes {
    Bytes::from(format!(":{text}\n\n"))
}

/// The decoder's state between reads.
#[derive(Debug, Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    /// The last byte read was a CR: a following LF belongs to the same line end.
    after_cr: bool,
    pending: SseEvent,
    has_data: bool,
}

impl SseDecoder {
    /// Reads the next bytes; returns what they completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseItem> {
        let mut items = Vec::new();
        for &byte in bytes {
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            match byte {
                b'\n' => self.end_line(&mut items),
                b'\r' => {
                    self.end_line(&mut items);
                    self.after_cr = true;
                }
                _ => self.line.push(byte),
            }
        }
        items
    }

    /// The stream ended: completes a last line and a last event that had no
    /// blank line after them.
    pub fn finish(&mut self) -> Vec<SseItem> {
        let mut items = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut items);
        }
        self.end_line(&mut items);
        items
    }

    fn end_line(&mut self, items: &mut Vec<SseItem>) {
        let line = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        if line.is_empty() {
            let event = std::mem::take(&mut self.pending);
            if std::mem::take(&mut self.has_data) {
                items.push(SseItem::Event(event));
            }
            return;
        }
        if let Some(comment) = line.strip_prefix(':') {
            items.push(SseItem::Comment(comment.to_owned()));
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.pending.data.push('\n');
                }
                self.pending.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.pending.event = Some(value.to_owned()),
            "id" => self.pending.id = Some(value.to_owned()),
            "retry" => self.pending.retry = Some(value.to_owned()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(text: &str) -> SseItem {
        SseItem::Event(SseEvent {
            data: text.to_owned(),
            ..SseEvent::default()
        })
    }

    #[test]
    fn events_split_across_reads_and_line_ends_are_reassembled() {
        let mut decoder = SseDecoder::default();
        let mut items = decoder.feed(b"data: {\"a\"");
        items.extend(decoder.feed(b":1}\r"));
        items.extend(decoder.feed(b"\n\r\ndata:x\rdata: y\r\r: ping\n\n"));
        items.extend(decoder.feed(b"data: [DONE]\n\n"));
        items.extend(decoder.finish());
        assert_eq!(
            items,
            vec![
                data("{\"a\":1}"),
                data("x\ny"),
                SseItem::Comment(" ping".into()),
                data("[DONE]"),
            ]
        );
    }

    #[test]
    fn named_events_keep_their_fields_and_a_last_event_without_blank_line_is_kept() {
        let mut decoder = SseDecoder::default();
        let mut items =
            decoder.feed(b"event: error\nid: 7\nunknown: z\ndata: {}\n\nevent: lonely\n\n");
        items.extend(decoder.feed(b"data: tail"));
        items.extend(decoder.finish());
        let named = SseEvent {
            event: Some("error".into()),
            id: Some("7".into()),
            retry: None,
            data: "{}".into(),
        };
        assert_eq!(items, vec![SseItem::Event(named.clone()), data("tail")]);
        assert_eq!(
            named.frame_with("a\nb"),
            Bytes::from_static(b"event: error\nid: 7\ndata: a\ndata: b\n\n")
        );
        assert_eq!(comment_frame(" ping"), Bytes::from_static(b": ping\n\n"));
    }
}
