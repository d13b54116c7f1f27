//! Benchmarks of the SQLite store, on a temporary database file opened the way
//! the server opens it (`store::sqlite::database::open`: WAL, synchronous=NORMAL, migrations):
//!
//! * `store/stored_turn`: one stored Responses turn as the engine writes and a
//!   client reads it: `insert_response` (in progress, one input item),
//!   `finish_response` (completed, one output message), `get_response`.
//! * `store/chain_rebuild_1000_turns`: the history a request with
//!   `previous_response_id` needs at the end of a 1,000-turn chain, as the
//!   engine builds it: `chain_item_bodies` (one recursive query) and
//!   `history::chat_messages_after_chain` (what a turn pays when the chain is
//!   not in memory, e.g. after a restart); the same through `continuation`
//!   when every link is among the recently finished responses
//!   (`..._recent`); then the query alone, and the chain as `Value`s
//!   (`chain_items`, for input item lists).
//!
//! `cargo bench --bench store`. Numbers and conditions: benches/RESULTS.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};

use portico::engine::history::chat_messages_after_chain;
use portico::store;
use portico::store::sqlite::database::Database;
use portico::wire::ids::new_id;
use portico::wire::responses::defaults::blank_response;
use portico::wire::responses::object::{ContentPart, ItemStatus, OutputItem, ResponseStatus};

const PROJECT: &str = "default";
const CHAIN_TURNS: usize = 1_000;

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => fail("tokio runtime", error),
    }
}

/// Setup failures end the benchmark (the lints forbid `panic!`).
fn fail(what: &str, error: impl std::fmt::Display) -> ! {
    eprintln!("store bench: {what}: {error}");
    std::process::exit(1)
}

fn temporary_directory() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|error| fail("temporary directory", error))
}

fn user_item(text: &str) -> Value {
    json!({"id": new_id("msg_"), "type": "message", "role": "user",
           "content": [{"type": "input_text", "text": text}]})
}

fn answer(text: &str) -> OutputItem {
    OutputItem::Message {
        id: new_id("msg_"),
        status: ItemStatus::Completed,
        content: vec![ContentPart::OutputText {
            annotations: Vec::new(),
            logprobs: Vec::new(),
            text: text.to_owned(),
        }],
        phase: Some("final_answer".into()),
        role: "assistant".into(),
    }
}

/// Inserts and finishes one turn; returns its id.
async fn stored_turn(db: &Database, previous: Option<String>) -> Result<String, sqlx::Error> {
    let mut response = blank_response(new_id("resp_"), "mock".into(), 1_795_246_795);
    response.previous_response_id = previous;
    let input = [user_item("What is the weather like in Paris today?")];
    store::sqlite::responses::insert_response(db, PROJECT, &response, &input, None).await?;
    response.status = ResponseStatus::Completed;
    response.completed_at = Some(1_795_246_796);
    response.output = vec![answer("It is sunny in Paris, 21 degrees.")];
    let turn = store::responses::Turn {
        project: PROJECT,
        input_items: &input,
    };
    store::sqlite::responses::finish_response(db, &response, turn).await?;
    Ok(response.id)
}

async fn open(dir: &tempfile::TempDir) -> Database {
    match store::sqlite::database::open(&dir.path().join("bench.db")).await {
        Ok(pool) => pool,
        Err(error) => fail("open the database", error),
    }
}

fn stored_turn_bench(c: &mut Criterion) {
    let runtime = runtime();
    let dir = temporary_directory();
    let pool = runtime.block_on(open(&dir));
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1));
    group.bench_function("stored_turn", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let id = stored_turn(&pool, None).await.ok();
                let read = match &id {
                    Some(id) => store::sqlite::responses::get_response(&pool, PROJECT, id)
                        .await
                        .ok()
                        .flatten(),
                    None => None,
                };
                black_box(read.map(|stored| stored.body.len()))
            })
        })
    });
    group.finish();
    runtime.block_on(pool.close());
}

fn chain_bench(c: &mut Criterion) {
    let runtime = runtime();
    let dir = temporary_directory();
    let pool = runtime.block_on(open(&dir));
    let last = runtime.block_on(async {
        let mut previous = None;
        for _ in 0..CHAIN_TURNS {
            previous = stored_turn(&pool, previous).await.ok();
        }
        previous.unwrap_or_default()
    });
    let items = runtime
        .block_on(store::sqlite::responses::chain_items(&pool, PROJECT, &last))
        .map(|items| items.len())
        .unwrap_or(0);
    assert_eq!(items, 2 * CHAIN_TURNS, "the chain has every turn's items");
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(CHAIN_TURNS as u64));
    // What `engine::input` does for `previous_response_id`: the stored items'
    // text, read straight into chat messages.
    group.bench_function("chain_rebuild_1000_turns", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let chain = store::sqlite::responses::chain_item_bodies(&pool, PROJECT, &last)
                    .await
                    .unwrap_or_default();
                black_box(chat_messages_after_chain(Some("Be brief."), &chain, &[]).len())
            })
        })
    });
    // The parts: the query alone, and the items as `Value`s (input item lists).
    group.bench_function("chain_query_only_1000_turns", |b| {
        b.iter(|| {
            runtime.block_on(async {
                black_box(
                    store::sqlite::responses::chain_item_bodies(&pool, PROJECT, &last)
                        .await
                        .map(|bodies| bodies.len()),
                )
            })
        })
    });
    // A turn continuing a chain this process has just written: every link
    // is among the recently finished responses (`store::recent`), no query.
    group.bench_function("chain_rebuild_1000_turns_recent", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let chain =
                    match store::sqlite::responses::continuation(&pool, PROJECT, &last).await {
                        Ok(store::responses::Continuation::Chain(chain)) => chain,
                        _ => Vec::new(),
                    };
                black_box(chat_messages_after_chain(Some("Be brief."), &chain, &[]).len())
            })
        })
    });
    group.bench_function("chain_items_as_values_1000_turns", |b| {
        b.iter(|| {
            runtime.block_on(async {
                black_box(
                    store::sqlite::responses::chain_items(&pool, PROJECT, &last)
                        .await
                        .map(|items| items.len()),
                )
            })
        })
    });
    group.finish();
    runtime.block_on(pool.close());
}

criterion_group!(benches, stored_turn_bench, chain_bench);
criterion_main!(benches);
