//! The prompt tokens of a Chat Completions request, for the usage chunk a
//! backend did not send (see `pipeline`): the backend's own tokenizer over the
//! messages' text when its kind has one (else about four characters a token),
//! plus OpenAI's documented three tokens a message and three that prime the
//! reply — the chat template's own tokens, which a plain count cannot see.

use std::sync::Arc;

use serde_json::Value;

use crate::backends::backend::Backend;
use crate::engine::chat::relay::PromptTokens;
use crate::wire::chat_events::estimate_tokens;

/// Tokens a message costs beyond its text (OpenAI's counting rule).
const TOKENS_PER_MESSAGE: u64 = 3;
/// Tokens that prime the assistant's reply.
const REPLY_PRIMING_TOKENS: u64 = 3;

/// Counts `body`'s prompt with `backend`, when awaited.
pub fn counted_by(backend: Arc<dyn Backend>, body: &Value) -> PromptTokens {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let text = messages
        .iter()
        .map(message_text)
        .collect::<Vec<_>>()
        .join("\n");
    let overhead = TOKENS_PER_MESSAGE * messages.len() as u64 + REPLY_PRIMING_TOKENS;
    Box::pin(async move {
        let counted = backend.count_tokens(&text).await;
        counted.unwrap_or_else(|| estimate_tokens(&text)) + overhead
    })
}

/// A message's text: its content (a string, or its text parts), and its tool
/// calls' names and arguments.
fn message_text(message: &Value) -> String {
    let mut pieces: Vec<&str> = Vec::new();
    match message.get("content") {
        Some(Value::String(text)) => pieces.push(text),
        Some(Value::Array(parts)) => pieces.extend(
            parts
                .iter()
                .filter_map(|part| part.get("text").and_then(Value::as_str)),
        ),
        _ => {}
    }
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for key in ["/function/name", "/function/arguments"] {
            if let Some(text) = call.pointer(key).and_then(Value::as_str) {
                pieces.push(text);
            }
        }
    }
    pieces.join("\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::backends::scripted::ScriptedBackend;

    #[tokio::test]
    async fn without_a_tokenizer_the_text_is_estimated_plus_the_template_overhead() {
        let backend: Arc<dyn Backend> = Arc::new(ScriptedBackend::new("b", vec![]));
        let body = json!({"messages": [
            {"role": "system", "content": "abcd"},
            {"role": "user", "content": [{"type": "text", "text": "efgh"}]},
            {"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},
        ]});
        // "abcd\nefgh\nf\n{}" is 14 characters: 4 tokens; 3 messages: 9; reply: 3.
        assert_eq!(counted_by(backend, &body).await, 16);
    }
}
