//! The way of every streamed chunk to the client, the same for relayed and
//! synthesized streams: normalized ([`ChunkNormalizer`]), a role-only first
//! chunk held back one chunk ([`FirstChunkHold`]), seen by the [`Recorder`]
//! when the completion is to be stored, brought back to the legacy function-call
//! form when the request used `functions`, and framed with the SSE fields it
//! came with. Error chunks pass unchanged (after anything held) and mark the stream
//! failed: a failed stream is not stored.
//!
//! When the client asked for `stream_options.include_usage` and the backend
//! sent no usage (llama-cpp-python never does), the pipeline makes the usage
//! chunk OpenAI ends with ([`usage_chunk`](ChunkPipeline::usage_chunk)): the
//! completion tokens are the chunks that carried generated text (a server
//! streams one token a chunk), the prompt tokens the caller's count.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use crate::access::meter::StreamTokens;
use crate::engine::chat::stored::Recorder;
use crate::stream::chat::normalize::{ChunkNormalizer, FirstChunkHold};
use crate::stream::chat::sse_lines::SseEvent;
use crate::wire::chat::legacy_functions::chunk_to_legacy;

/// One stream's chunk pipeline.
#[derive(Debug)]
pub struct ChunkPipeline {
    normalizer: ChunkNormalizer,
    hold: FirstChunkHold<SseEvent>,
    recorder: Option<Recorder>,
    legacy_functions: bool,
    failed: bool,
    backend_call: Option<crate::metrics::backend_call::BackendCall>,
    tokens: Arc<StreamTokens>,
    /// Whether a chunk carried `usage`.
    saw_usage: bool,
    /// Chunks that carried generated text, per choice summed.
    generated_chunks: u64,
}

impl ChunkPipeline {
    /// A pipeline normalizing with `normalizer`, storing through `recorder`.
    pub fn new(normalizer: ChunkNormalizer, recorder: Option<Recorder>) -> Self {
        Self {
            normalizer,
            hold: FirstChunkHold::default(),
            recorder,
            legacy_functions: false,
            failed: false,
            backend_call: None,
            tokens: Arc::default(),
            saw_usage: false,
            generated_chunks: 0,
        }
    }

    /// Whether the client asked for usage and none came: the caller then
    /// counts the prompt and sends [`usage_chunk`](Self::usage_chunk).
    pub fn needs_usage(&self) -> bool {
        self.normalizer.includes_usage() && !self.saw_usage && !self.failed
    }

    /// The frames of the usage chunk the backend did not send, for a prompt
    /// of `prompt_tokens` (see the module doc).
    pub fn usage_chunk(&mut self, prompt_tokens: u64) -> Vec<Bytes> {
        let completion_tokens = self.generated_chunks;
        let chunk = serde_json::json!({
            "choices": [],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        });
        let mut frames = self.flush();
        frames.extend(self.chunk(SseEvent::default(), chunk));
        frames
    }

    /// The stream's token count as its chunks pass, for the meter (attach it
    /// to the response: see [`StreamTokens`]).
    pub fn tokens(&self) -> Arc<StreamTokens> {
        self.tokens.clone()
    }

    /// Reports the relayed backend call's usage, error chunks and end to its metrics.
    pub fn with_backend_call(mut self, call: crate::metrics::backend_call::BackendCall) -> Self {
        self.backend_call = Some(call);
        self
    }

    /// Sends tool calls as legacy `function_call` deltas (the request used `functions`).
    pub fn with_legacy_functions(mut self, legacy_functions: bool) -> Self {
        self.legacy_functions = legacy_functions;
        self
    }

    fn frame(&self, event: &SseEvent, mut chunk: Value) -> Bytes {
        if self.legacy_functions {
            chunk_to_legacy(&mut chunk);
        }
        event.frame_with(&chunk.to_string())
    }

    /// The frames to send now for one chunk that came as `event` (its data is
    /// replaced by the normalized chunk).
    pub fn chunk(&mut self, event: SseEvent, chunk: Value) -> Vec<Bytes> {
        if let Some(call) = &self.backend_call {
            call.observe_chunk(&chunk);
        }
        if chunk.get("error").is_some_and(|error| !error.is_null()) {
            self.failed = true;
            let mut frames = self.flush();
            frames.push(event.frame_with(&chunk.to_string()));
            return frames;
        }
        // As the backend sent it: its usage counts even when the client did
        // not ask to see it.
        self.tokens.observe(&chunk);
        self.saw_usage |= chunk.get("usage").is_some_and(Value::is_object);
        self.generated_chunks += generated_pieces(&chunk);
        let chunk = self.normalizer.normalize(chunk);
        if let Some(recorder) = &mut self.recorder {
            recorder.observe(&chunk);
        }
        let sent = self.hold.push(event, chunk);
        sent.into_iter()
            .map(|(event, chunk)| self.frame(&event, chunk))
            .collect()
    }

    /// The held chunk's frame, if any: call before sending anything that is
    /// not a chunk.
    pub fn flush(&mut self) -> Vec<Bytes> {
        let held = self.hold.flush();
        held.map(|(event, chunk)| self.frame(&event, chunk))
            .into_iter()
            .collect()
    }

    /// Marks the stream failed (it broke off): it will not be stored.
    pub fn fail(&mut self) {
        self.failed = true;
    }

    /// Whether an error chunk passed or the stream broke off.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// The stream is complete: stores the completion when asked to (before the
    /// caller sends `[DONE]`, so that a read right after finds it).
    pub async fn finish(&mut self) {
        if let Some(call) = &self.backend_call {
            call.succeeded();
        }
        if self.failed {
            return;
        }
        if let Some(recorder) = self.recorder.take() {
            recorder.save_stream().await;
        }
    }
}

/// How many choices of `chunk` carry generated text (content, a refusal,
/// reasoning, or tool-call arguments).
fn generated_pieces(chunk: &Value) -> u64 {
    let carries_text = |delta: &Value| {
        ["content", "refusal", "reasoning_content", "reasoning"]
            .iter()
            .any(|key| {
                delta
                    .get(*key)
                    .and_then(Value::as_str)
                    .is_some_and(|text| !text.is_empty())
            })
            || delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|call| {
                    call.pointer("/function/arguments")
                        .and_then(Value::as_str)
                        .is_some_and(|text| !text.is_empty())
                })
    };
    chunk
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|choice| choice.get("delta"))
        .filter(|delta| carries_text(delta))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data(frames: &[Bytes]) -> Vec<Value> {
        frames
            .iter()
            .filter_map(|frame| std::str::from_utf8(frame).ok())
            .filter_map(|text| text.strip_prefix("data: "))
            .filter_map(|text| serde_json::from_str(text.trim_end()).ok())
            .collect()
    }

    fn chunk(delta: Value) -> Value {
        json!({"id": "chatcmpl-1", "created": 1, "model": "m", "choices": [{"index": 0, "delta": delta}]})
    }

    #[test]
    fn a_local_tool_call_stream_opens_like_openais_with_padding_on_every_chunk() {
        let normalizer = ChunkNormalizer::new("m", false).with_obfuscation(true);
        let mut pipeline = ChunkPipeline::new(normalizer, None);
        let event = SseEvent::default;
        let mut frames =
            pipeline.chunk(event(), chunk(json!({"role": "assistant", "content": ""})));
        assert!(
            frames.is_empty(),
            "the role-only chunk waits for the next one"
        );
        let call = json!({"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}});
        frames.extend(pipeline.chunk(event(), chunk(json!({"tool_calls": [call]}))));
        frames.extend(pipeline.chunk(event(), json!({"error": {"message": "late"}})));
        let chunks = data(&frames);
        assert_eq!(
            chunks[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": null, "tool_calls": [call], "refusal": null})
        );
        assert!(chunks[0]["obfuscation"].is_string());
        assert_eq!(chunks[1], json!({"error": {"message": "late"}}));
        assert!(pipeline.failed());
    }

    #[test]
    fn legacy_function_requests_get_function_call_deltas() {
        let normalizer = ChunkNormalizer::new("m", false);
        let mut pipeline = ChunkPipeline::new(normalizer, None).with_legacy_functions(true);
        let mut frames = pipeline.chunk(SseEvent::default(), chunk(json!({"role": "assistant"})));
        let call = json!({"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}});
        frames.extend(pipeline.chunk(SseEvent::default(), chunk(json!({"tool_calls": [call]}))));
        let finish = json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]});
        frames.extend(pipeline.chunk(SseEvent::default(), finish));
        frames.extend(pipeline.flush());
        let chunks = data(&frames);
        assert_eq!(
            chunks[0]["choices"][0]["delta"]["function_call"],
            json!({"name": "f", "arguments": ""})
        );
        assert_eq!(chunks[1]["choices"][0]["finish_reason"], "function_call");
        assert!(chunks[0].get("obfuscation").is_none());
    }
}
