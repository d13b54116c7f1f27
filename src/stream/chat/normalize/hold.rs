//! A one-chunk lookahead over normalized chunks, for what a chunk alone cannot
//! tell: local servers open every answer with a role-only chunk
//! (`{"role":"assistant","content":""}`), while OpenAI opens
//!
//! * a tool-call answer with one chunk that carries the role, `content: null`,
//!   the first tool-call fragment and `refusal: null` together;
//! * a refusal with `{"role":"assistant","content":null,"refusal":""}`.
//!
//! [`FirstChunkHold`] keeps a role-only chunk back until the next chunk comes
//! (so text is not delayed: the first text chunk releases it at once). When the
//! next chunk starts the same choice's tool calls, the two become one chunk with
//! `content: null`; when it starts a refusal, the held chunk gets `content: null`
//! and `refusal: ""`; otherwise the held chunk opens text with `content: ""`
//! (a server that sent no `content`, or `null`, gets OpenAI's empty string). Each chunk travels with a
//! tag of the caller's (the SSE fields it came with, say).

use serde_json::{Map, Value};

/// Holds back a role-only chunk until the next one shows what it opens.
#[derive(Debug, Clone)]
pub struct FirstChunkHold<T> {
    held: Option<(T, Value)>,
}

impl<T> Default for FirstChunkHold<T> {
    fn default() -> Self {
        Self { held: None }
    }
}

impl<T> FirstChunkHold<T> {
    /// The chunks to send now, in order, for one more normalized chunk.
    pub fn push(&mut self, tag: T, chunk: Value) -> Vec<(T, Value)> {
        let Some((held_tag, mut held)) = self.held.take() else {
            if role_only_choice(&chunk).is_some() {
                self.held = Some((tag, chunk));
                return Vec::new();
            }
            return vec![(tag, chunk)];
        };
        let index = role_only_choice(&held);
        match opening(&chunk, index) {
            Opening::ToolCalls => {
                merge_tool_calls(&mut held, &chunk);
                vec![(held_tag, held)]
            }
            Opening::Refusal => {
                if let Some(delta) = first_delta_mut(&mut held) {
                    delta.insert("content".into(), Value::Null);
                    delta.insert("refusal".into(), Value::String(String::new()));
                }
                vec![(held_tag, held), (tag, chunk)]
            }
            Opening::Other => {
                open_text(&mut held);
                let mut out = vec![(held_tag, held)];
                out.extend(self.push(tag, chunk));
                out
            }
        }
    }

    /// The held chunk, if any: call before anything that is not a chunk (an
    /// error, `[DONE]`) and at the end of the stream.
    pub fn flush(&mut self) -> Option<(T, Value)> {
        self.held.take().map(|(tag, mut held)| {
            open_text(&mut held);
            (tag, held)
        })
    }
}

enum Opening {
    ToolCalls,
    Refusal,
    Other,
}

/// The choice index of a chunk whose only choice has a delta of just the role
/// (with empty or null `content` and null `refusal`) and no finish.
fn role_only_choice(chunk: &Value) -> Option<u64> {
    if chunk.get("error").is_some_and(|error| !error.is_null()) {
        return None;
    }
    let [choice] = chunk.get("choices")?.as_array()?.as_slice() else {
        return None;
    };
    if !choice.get("finish_reason").is_none_or(Value::is_null) {
        return None;
    }
    let delta = choice.get("delta")?.as_object()?;
    let role_only = delta.contains_key("role")
        && delta.iter().all(|(key, value)| match key.as_str() {
            "role" => true,
            "content" => value.is_null() || value.as_str() == Some(""),
            "refusal" => value.is_null(),
            _ => false,
        });
    role_only.then(|| choice.get("index").and_then(Value::as_u64).unwrap_or(0))
}

/// What the chunk after a role-only chunk of choice `index` starts.
fn opening(chunk: &Value, index: Option<u64>) -> Opening {
    let Some([choice]) = chunk
        .get("choices")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    else {
        return Opening::Other;
    };
    if choice.get("index").and_then(Value::as_u64).unwrap_or(0) != index.unwrap_or(0) {
        return Opening::Other;
    }
    let Some(delta) = choice.get("delta").and_then(Value::as_object) else {
        return Opening::Other;
    };
    let no_text = delta
        .get("content")
        .is_none_or(|content| content.is_null() || content.as_str() == Some(""));
    if !no_text || delta.contains_key("role") {
        return Opening::Other;
    }
    let starts_calls = delta
        .get("tool_calls")
        .and_then(Value::as_array)
        .is_some_and(|calls| !calls.is_empty());
    if starts_calls && choice.get("finish_reason").is_none_or(Value::is_null) {
        return Opening::ToolCalls;
    }
    if delta.get("refusal").is_some_and(Value::is_string) {
        return Opening::Refusal;
    }
    Opening::Other
}

/// A role-only chunk that opens text (or nothing) carries `content: ""` after
/// the role, as OpenAI's does (llama-cpp-python sends no `content`, llama.cpp
/// `null`).
fn open_text(held: &mut Value) {
    let Some(delta) = first_delta_mut(held) else {
        return;
    };
    if delta.get("content").is_some_and(Value::is_string) {
        return;
    }
    let rest = std::mem::take(delta);
    for (key, value) in rest {
        let is_role = key == "role";
        if key != "content" {
            delta.insert(key, value);
        }
        if is_role {
            delta.insert("content".into(), Value::String(String::new()));
        }
    }
}

fn first_delta_mut(chunk: &mut Value) -> Option<&mut Map<String, Value>> {
    chunk.pointer_mut("/choices/0/delta")?.as_object_mut()
}

/// The held chunk's delta becomes `{role, content: null, tool_calls, refusal}`
/// with the next delta's other keys after them.
fn merge_tool_calls(held: &mut Value, next: &Value) {
    let Some(next_delta) = next.pointer("/choices/0/delta").and_then(Value::as_object) else {
        return;
    };
    let Some(delta) = first_delta_mut(held) else {
        return;
    };
    let mut merged = Map::new();
    merged.insert("role".into(), delta.remove("role").unwrap_or(Value::Null));
    merged.insert("content".into(), Value::Null);
    for (key, value) in next_delta {
        if key == "tool_calls" {
            merged.insert(key.clone(), value.clone());
        }
    }
    let refusal = next_delta
        .get("refusal")
        .cloned()
        .or_else(|| delta.remove("refusal"))
        .unwrap_or(Value::Null);
    merged.insert("refusal".into(), refusal);
    for (key, value) in next_delta {
        if !["content", "tool_calls", "refusal"].contains(&key.as_str()) {
            merged.insert(key.clone(), value.clone());
        }
    }
    *delta = merged;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn chunk(delta: Value) -> Value {
        json!({"id": "c", "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}], "obfuscation": "x"})
    }

    fn deltas(chunks: &[((), Value)]) -> Vec<Value> {
        chunks
            .iter()
            .map(|(_, chunk)| chunk["choices"][0]["delta"].clone())
            .collect()
    }

    #[test]
    fn a_role_chunk_before_tool_calls_becomes_openais_merged_first_chunk() {
        let mut hold = FirstChunkHold::default();
        let role = chunk(json!({"role": "assistant", "content": "", "refusal": null}));
        assert!(hold.push((), role).is_empty());
        let call = json!([{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]);
        let sent = hold.push((), chunk(json!({"tool_calls": call})));
        assert_eq!(
            deltas(&sent),
            [json!({"role": "assistant", "content": null, "tool_calls": call, "refusal": null})]
        );
        assert!(hold.flush().is_none());
        let more = hold.push(
            (),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]})),
        );
        assert_eq!(more.len(), 1, "only the first chunk is ever held");
    }

    #[test]
    fn text_releases_the_role_chunk_unchanged_and_a_refusal_nulls_its_content() {
        let mut hold = FirstChunkHold::default();
        let role = chunk(json!({"role": "assistant", "content": ""}));
        hold.push((), role.clone());
        let sent = hold.push((), chunk(json!({"content": "Hi"})));
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].1, role);
        let mut hold = FirstChunkHold::default();
        hold.push((), role);
        let sent = hold.push((), chunk(json!({"refusal": "No"})));
        assert_eq!(
            deltas(&sent),
            [
                json!({"role": "assistant", "content": null, "refusal": ""}),
                json!({"refusal": "No"})
            ]
        );
    }

    #[test]
    fn a_role_chunk_without_content_opens_text_with_an_empty_string() {
        for opening in [
            json!({"role": "assistant"}),
            json!({"role": "assistant", "content": null, "refusal": null}),
        ] {
            let mut hold = FirstChunkHold::default();
            hold.push((), chunk(opening));
            let sent = hold.push((), chunk(json!({"content": "Hi"})));
            assert_eq!(sent[0].1["choices"][0]["delta"]["content"], "");
            let keys: Vec<&String> = sent[0].1["choices"][0]["delta"]
                .as_object()
                .map(|delta| delta.keys().collect())
                .unwrap_or_default();
            assert_eq!(keys[..2], ["role", "content"]);
        }
        let mut hold = FirstChunkHold::default();
        hold.push((), chunk(json!({"role": "assistant"})));
        let flushed = hold
            .flush()
            .map(|(_, held)| held["choices"][0]["delta"].clone());
        assert_eq!(flushed, Some(json!({"role": "assistant", "content": ""})));
    }

    #[test]
    fn the_held_chunk_is_flushed_at_the_end_and_other_chunks_pass_at_once() {
        let mut hold = FirstChunkHold::default();
        let text = chunk(json!({"role": "assistant", "content": "Hi"}));
        assert_eq!(hold.push((), text.clone()), [((), text)]);
        let role = chunk(json!({"role": "assistant", "content": ""}));
        hold.push((), role.clone());
        assert_eq!(hold.flush(), Some(((), role)));
        let error = json!({"error": {"message": "x"}});
        assert_eq!(hold.push((), error.clone()), [((), error)]);
    }
}
