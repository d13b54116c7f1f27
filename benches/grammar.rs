//! Benchmarks of the streaming hot path, per response:
//!
//! * `sse_grammar/*`: the Responses grammar (`ResponseStreamBuilder`) driven by
//!   normalized deltas, every event framed as SSE (`response_event_frame`, i.e.
//!   JSON serialization included), for a long text answer (1,000 deltas) and for
//!   a tool call (200 argument fragments). Throughput is in events.
//! * `translate/*`: what a live stream costs from upstream `data:` payloads to
//!   framed Responses events: `ChunkTranslator` parses Chat Completions chunks
//!   shaped like llama-cpp-python's (see scripts/real-backend/NOTES.md), the
//!   grammar turns them into events, each event is framed. Throughput is in
//!   upstream chunks.
//!
//! `cargo bench --bench grammar`. Numbers and conditions: benches/RESULTS.md.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

use portico::backends::openai_compat::ChunkTranslator;
use portico::stream::sse::response_event_frame;
use portico::stream::{GrammarError, ResponseStreamBuilder, ResponseStreamEvent};
use portico::wire::chat_events::TokenUsage;
use portico::wire::responses::defaults::blank_response;

const TEXT_DELTAS: usize = 1_000;
const ARGUMENT_FRAGMENTS: usize = 200;

fn builder(obfuscate: bool) -> ResponseStreamBuilder {
    let response = blank_response(
        "resp_0123456789abcdef0123456789abcdef0123456789abcdef".into(),
        "gemma3-270m".into(),
        1_795_246_795,
    );
    ResponseStreamBuilder::new(response, false, obfuscate)
}

fn usage() -> portico::wire::responses::object::ResponseUsage {
    TokenUsage {
        prompt_tokens: 12,
        completion_tokens: 1_000,
        ..TokenUsage::default()
    }
    .into()
}

/// Frames every event and returns the bytes written, so nothing is optimized away.
fn frame_all(events: Vec<ResponseStreamEvent>) -> usize {
    events
        .iter()
        .map(|event| response_event_frame(event).len())
        .sum()
}

/// A text answer of `TEXT_DELTAS` word-sized deltas, start to terminal event.
fn long_text(obfuscate: bool) -> Result<(usize, usize), GrammarError> {
    let mut builder = builder(obfuscate);
    let mut events = 0;
    let mut bytes = 0;
    let mut count = |batch: Vec<ResponseStreamEvent>| {
        events += batch.len();
        bytes += frame_all(batch);
    };
    count(builder.start()?);
    for index in 0..TEXT_DELTAS {
        let delta = if index % 7 == 0 {
            " lighthouse"
        } else {
            " sea"
        };
        count(builder.text_delta(delta)?);
    }
    count(builder.finish(usage(), None, 1_795_246_800)?);
    Ok((events, bytes))
}

/// One tool call whose arguments arrive in `ARGUMENT_FRAGMENTS` pieces.
fn tool_call(obfuscate: bool) -> Result<(usize, usize), GrammarError> {
    let mut builder = builder(obfuscate);
    let mut events = 0;
    let mut bytes = 0;
    let mut count = |batch: Vec<ResponseStreamEvent>| {
        events += batch.len();
        bytes += frame_all(batch);
    };
    count(builder.start()?);
    count(builder.tool_call_start(0, "call_abc123", "get_weather")?);
    count(builder.tool_call_arguments(0, "{\"city\": \"")?);
    for _ in 0..ARGUMENT_FRAGMENTS - 2 {
        count(builder.tool_call_arguments(0, "Par")?);
    }
    count(builder.tool_call_arguments(0, "\"}")?);
    count(builder.finish(usage(), None, 1_795_246_800)?);
    Ok((events, bytes))
}

fn event_count(run: fn(bool) -> Result<(usize, usize), GrammarError>) -> u64 {
    run(true).map_or(0, |(events, _)| events as u64)
}

fn sse_grammar(c: &mut Criterion) {
    let mut group = c.benchmark_group("sse_grammar");
    group.throughput(Throughput::Elements(event_count(long_text)));
    group.bench_function("long_text_1000_deltas", |b| {
        b.iter(|| black_box(long_text(true)))
    });
    group.bench_function("long_text_1000_deltas_no_obfuscation", |b| {
        b.iter(|| black_box(long_text(false)))
    });
    group.throughput(Throughput::Elements(event_count(tool_call)));
    group.bench_function("tool_call_200_fragments", |b| {
        b.iter(|| black_box(tool_call(true)))
    });
    group.finish();
}

const CHUNK_ID: &str = "chatcmpl-d7a714d7-f23d-4b08-a174-b471751fd228";

/// llama-cpp-python's text stream: a role chunk, one chunk per token, a finish chunk.
fn recorded_text_chunks(tokens: usize) -> Vec<String> {
    let chunk = |delta: &str, finish: &str| {
        format!(
            r#"{{"id": "{CHUNK_ID}", "model": "gemma3-270m", "created": 1795246799, "object": "chat.completion.chunk", "choices": [{{"index": 0, "delta": {delta}, "logprobs": null, "finish_reason": {finish}}}]}}"#
        )
    };
    let mut chunks = vec![chunk(r#"{"role": "assistant"}"#, "null")];
    for index in 0..tokens {
        let word = if index % 5 == 0 {
            " mendatang"
        } else {
            " hello"
        };
        chunks.push(chunk(&format!(r#"{{"content": "{word}"}}"#), "null"));
    }
    chunks.push(chunk("{}", r#""length""#));
    chunks
}

/// llama-cpp-python's tool-call stream: every delta repeats the id and name.
fn recorded_tool_chunks(fragments: usize) -> Vec<String> {
    let call_id = "call__0_get_weather_cmpl-f700d5d8-1b11-49bc-9079-134820ac1dfa";
    let chunk = |delta: &str, finish: &str| {
        format!(
            r#"{{"id": "{CHUNK_ID}", "object": "chat.completion.chunk", "created": 1795246808, "model": "gemma3-270m", "choices": [{{"index": 0, "finish_reason": {finish}, "logprobs": null, "delta": {delta}}}]}}"#
        )
    };
    let call = |arguments: &str| {
        let arguments = arguments.replace('"', "\\\"");
        format!(
            r#"{{"role": null, "content": null, "function_call": {{"name": "get_weather", "arguments": "{arguments}"}}, "tool_calls": [{{"index": 0, "id": "{call_id}", "type": "function", "function": {{"name": "get_weather", "arguments": "{arguments}"}}}}]}}"#
        )
    };
    let mut chunks = vec![chunk(
        r#"{"role": "assistant", "content": null, "function_call": null, "tool_calls": null}"#,
        "null",
    )];
    chunks.push(chunk(&call("{"), "null"));
    for _ in 0..fragments {
        chunks.push(chunk(&call(" \"city\""), "null"));
    }
    chunks.push(chunk(&call("}"), "null"));
    chunks.push(chunk(
        r#"{"role": null, "content": null, "function_call": null, "tool_calls": null}"#,
        r#""tool_calls""#,
    ));
    chunks
}

/// Upstream payloads → chat events → grammar → framed bytes.
fn translate_stream(chunks: &[String]) -> usize {
    let mut translator = ChunkTranslator::default();
    let mut builder = builder(true);
    let mut bytes = builder.start().map_or(0, frame_all);
    for data in chunks {
        let Ok(events) = translator.translate(data) else {
            return 0;
        };
        for event in &events {
            bytes += builder.apply(event).map_or(0, frame_all);
        }
    }
    bytes + builder.finish(usage(), None, 1).map_or(0, frame_all)
}

fn translate(c: &mut Criterion) {
    let mut group = c.benchmark_group("translate");
    let text = recorded_text_chunks(1_000);
    group.throughput(Throughput::Elements(text.len() as u64));
    group.bench_function("chat_text_stream_1000_tokens", |b| {
        b.iter(|| black_box(translate_stream(&text)))
    });
    let tool = recorded_tool_chunks(200);
    group.throughput(Throughput::Elements(tool.len() as u64));
    group.bench_function("chat_tool_call_stream_200_fragments", |b| {
        b.iter(|| black_box(translate_stream(&tool)))
    });
    group.finish();
}

criterion_group!(benches, sse_grammar, translate);
criterion_main!(benches);
