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

/// The Chat Completions terminator.
pub const DONE_FRAME: &str = "data: [DONE]\n\n";

/// A Responses stream event, framed.
pub fn response_event_frame(event: &ResponseStreamEvent) -> Bytes {
    named_frame(event.event_type(), event)
}
