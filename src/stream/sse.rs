//! SSE framing. Responses and Assistants events are `event: <type>` plus one
//! `data: <json>` line and a blank line; Chat Completions chunks are data-only and
//! end with `data: [DONE]`. JSON never contains a raw newline, so one `data:`
//! line always suffices.

use bytes::Bytes;
use serde::Serialize;

use super::events::ResponseStreamEvent;

/// `event: <name>\ndata: <json>\n\n`.
pub fn named_frame(name: &str, data: &impl Serialize) -> Bytes {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned());
    let mut frame = String::with_capacity(name.len() + json.len() + 16);
    frame.push_str("event: ");
    frame.push_str(name);
    frame.push_str("\ndata: ");
    frame.push_str(&json);
    frame.push_str("\n\n");
    Bytes::from(frame)
}

/// `data: <json>\n\n`.
pub fn data_frame(data: &impl Serialize) -> Bytes {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned());
    Bytes::from(format!("data: {json}\n\n"))
}

/// `data: <text>\n\n` for text that is already the data line's content
/// (verbatim, valid JSON or not).
pub fn text_frame(text: &str) -> Bytes {
    Bytes::from(format!("data: {text}\n\n"))
}

/// The Chat Completions terminator.
pub const DONE_FRAME: &str = "data: [DONE]\n\n";

/// Frames ready together, as one body chunk (one write to the socket
/// instead of one each); `None` when there are none.
pub fn joined(frames: Vec<Bytes>) -> Option<Bytes> {
    match frames.len() {
        0 => None,
        1 => frames.into_iter().next(),
        _ => Some(Bytes::from(frames.concat())),
    }
}

/// A Responses stream event, framed.
pub fn response_event_frame(event: &ResponseStreamEvent) -> Bytes {
    named_frame(event.event_type(), event)
}

/// Whether a logged Responses frame is its stream's terminal event
/// (`response.completed`, `response.incomplete` or `response.failed`).
pub fn is_terminal_response_frame(frame: &str) -> bool {
    frame
        .strip_prefix("event: ")
        .and_then(|rest| rest.split('\n').next())
        .is_some_and(|name| {
            matches!(
                name,
                "response.completed" | "response.incomplete" | "response.failed"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_frame_is_known_by_its_event_name() {
        assert!(is_terminal_response_frame(
            "event: response.failed\ndata: {}\n\n"
        ));
        assert!(!is_terminal_response_frame(
            "event: response.output_text.delta\ndata: {\"type\":\"response.completed\"}\n\n"
        ));
        assert!(!is_terminal_response_frame("data: [DONE]\n\n"));
    }

    #[test]
    fn frames_ready_together_become_one_chunk_in_order() {
        assert_eq!(joined(Vec::new()), None);
        let one = Bytes::from_static(b"data: 1\n\n");
        assert_eq!(joined(vec![one.clone()]), Some(one));
        let frames = vec![
            Bytes::from_static(b"data: 1\n\n"),
            Bytes::from_static(b"data: 2\n\n"),
        ];
        assert_eq!(
            joined(frames),
            Some(Bytes::from_static(b"data: 1\n\ndata: 2\n\n"))
        );
    }
}
