//! How a stream that cannot go on ends, in each grammar: the Chat Completions
//! chunk `data: {"error": {…}}` (OpenAI's mid-stream error; no `[DONE]` after
//! it), and the Responses `error` event (`event: error`, with the next
//! sequence number). Callers give the error object; nothing outside the
//! grammar writes one of these frames by hand.

use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};

use super::sse::{data_frame, named_frame};

/// The Responses stream's `error` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseErrorEvent {
    /// Always `error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub code: Option<String>,
    pub message: String,
    pub param: Option<String>,
    pub sequence_number: u64,
}

impl ResponseErrorEvent {
    /// The event for `error` (an OpenAI error object: `code`, `message`,
    /// `param`), following the event numbered `last` (the first when `None`).
    pub fn after(last: Option<u64>, error: &Value) -> Self {
        let text = |name: &str| error.get(name).and_then(Value::as_str).map(str::to_owned);
        Self {
            kind: "error",
            code: text("code"),
            message: text("message").unwrap_or_default(),
            param: text("param"),
            sequence_number: last.map_or(0, |last| last + 1),
        }
    }

    /// Framed: `event: error`.
    pub fn frame(&self) -> Bytes {
        named_frame(self.kind, self)
    }
}

/// The Chat Completions chunk that ends a stream with `error` (an OpenAI
/// error object), framed.
pub fn chat_error_frame(error: &Value) -> Bytes {
    data_frame(&json!({ "error": error }))
}

/// The error object of a server-side failure (`server_error`) told in `message`.
pub fn server_error(message: &str) -> Value {
    json!({"message": message, "type": "server_error", "param": null, "code": null})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_responses_error_event_follows_the_last_event_in_openais_shape() {
        let error = json!({"message": "Suspended.", "type": "invalid_request_error",
                           "param": null, "code": "project_suspended"});
        let frame = ResponseErrorEvent::after(Some(6), &error).frame();
        assert_eq!(
            std::str::from_utf8(&frame).unwrap(),
            "event: error\ndata: {\"type\":\"error\",\"code\":\"project_suspended\",\"message\":\"Suspended.\",\"param\":null,\"sequence_number\":7}\n\n"
        );
        assert_eq!(ResponseErrorEvent::after(None, &error).sequence_number, 0);
    }

    #[test]
    fn the_chat_error_chunk_is_data_only() {
        let frame = chat_error_frame(&server_error("The backend failed."));
        assert_eq!(
            std::str::from_utf8(&frame).unwrap(),
            "data: {\"error\":{\"message\":\"The backend failed.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n"
        );
    }
}
