//! Failover and cache-hit latency (issue 6's benchmark, not a timed test).
//!
//! `cargo bench --bench failover` starts, in this process, two mock backends
//! (one behind a [`SwitchableRelay`], so that it can be killed) and Portico in
//! front of them on loopback ports, then measures:
//!
//! * **Failover**: 8 clients send Chat Completions and Responses requests
//!   back to back through Portico; the primary backend is killed (listener
//!   closed, open connections dropped). Reported: the time from the kill to
//!   the first request sent after it that the fallback answered, the worst
//!   latency of a request sent in the first second after the kill, how many
//!   requests failed, and the latency before the kill for comparison. Five
//!   runs, each with a fresh Portico and database.
//! * **Cache hit**: the latency of a deterministic request answered from the
//!   cache (Chat Completions and Responses, non-streamed, 2,000 each, one at a
//!   time), next to the same requests as misses (each one new) and the mock
//!   called directly.
//!
//! It prints a table and writes it between the `failover` markers of
//! benches/RESULTS.md (`RESULTS_FILE` overrides the path).

use std::error::Error;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portico::config::{BackendConfig, BackendKind, Config};
use portico::http::app::App;
use portico::mock_backend::switchable::SwitchableRelay;
use serde_json::{json, Value};

type Failure = Box<dyn Error + Send + Sync>;

const RUNS: usize = 5;
const CLIENTS: usize = 8;
const CACHE_REQUESTS: usize = 2_000;

fn main() -> Result<(), Failure> {
    // `cargo test --benches` runs bench targets with `--bench`-less arguments: do nothing then.
    if !std::env::args().any(|argument| argument == "--bench") {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut failovers = Vec::new();
        for run in 0..RUNS {
            let measured = failover_run().await?;
            eprintln!("failover run {}: {measured:?}", run + 1);
            failovers.push(measured);
        }
        let cache = cache_latency().await?;
        let table = report(&failovers, &cache);
        println!("{table}");
        write_results(&table)
    })
}

async fn mock() -> Result<SocketAddr, Failure> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(portico::mock_backend::serve(listener));
    Ok(address)
}

fn backend(name: &str, address: SocketAddr) -> BackendConfig {
    BackendConfig {
        name: name.into(),
        kind: BackendKind::Openai,
        base_url: format!("http://{address}/v1"),
        api_key_env: None,
        models: vec!["*".into()],
        profile: None,
    }
}

/// Portico on a fresh database in `directory`, with `backends`, and its address.
async fn portico(
    directory: &tempfile::TempDir,
    backends: Vec<BackendConfig>,
    cache: bool,
) -> Result<SocketAddr, Failure> {
    let mut config = Config {
        listen: "127.0.0.1:0".parse()?,
        database: directory.path().join("portico.db"),
        backends,
        autodetect: false,
        ..Config::default()
    };
    config.calls.retries = 0;
    config.health.probe_interval_seconds = 0;
    config.cache.enabled = cache;
    let app = App::build(config).await?;
    let address = app.address()?;
    tokio::spawn(app.run());
    Ok(address)
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    sent: Instant,
    answered: Instant,
    ok: bool,
}

#[derive(Debug)]
struct Failover {
    /// Kill → first answered request sent after the kill.
    first_served_ms: f64,
    /// Worst latency of a request sent in the second after the kill.
    worst_after_ms: f64,
    /// p50 of requests sent in the second after the kill.
    p50_after_ms: f64,
    /// p99 of requests in the second before the kill.
    p99_before_ms: f64,
    failed: usize,
    requests: usize,
}

async fn failover_run() -> Result<Failover, Failure> {
    let (primary_mock, fallback_mock) = (mock().await?, mock().await?);
    let mut primary = SwitchableRelay::start(primary_mock)?;
    let directory = tempfile::tempdir()?;
    let gateway = portico(
        &directory,
        vec![
            backend("primary", primary.address()),
            backend("fallback", fallback_mock),
        ],
        false,
    )
    .await?;
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = tokio::task::JoinSet::new();
    for client_number in 0..CLIENTS {
        let (samples, stop) = (samples.clone(), stop.clone());
        let client = reqwest::Client::new();
        clients.spawn(async move {
            let (url, body) = if client_number % 2 == 0 {
                (
                    format!("http://{gateway}/v1/chat/completions"),
                    json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
                )
            } else {
                (
                    format!("http://{gateway}/v1/responses"),
                    json!({"model": "m", "input": "hi", "store": false}),
                )
            };
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let ok = match client.post(&url).json(&body).send().await {
                    Ok(answer) => answer.status().is_success() && answer.bytes().await.is_ok(),
                    Err(_) => false,
                };
                let sample = Sample {
                    sent,
                    answered: Instant::now(),
                    ok,
                };
                if let Ok(mut samples) = samples.lock() {
                    samples.push(sample);
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed = Instant::now();
    primary.stop().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    while clients.join_next().await.is_some() {}
    let samples = samples
        .lock()
        .map(|samples| samples.clone())
        .unwrap_or_default();
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    let first_served = samples
        .iter()
        .filter(|sample| sample.ok && sample.sent >= killed)
        .map(|sample| sample.answered)
        .min()
        .ok_or("no request was served after the kill")?;
    let window = Duration::from_secs(1);
    let latencies = |from: Instant, to: Instant| {
        let mut latencies: Vec<f64> = samples
            .iter()
            .filter(|sample| sample.sent >= from && sample.sent < to)
            .map(|sample| ms(sample.answered - sample.sent))
            .collect();
        latencies.sort_by(f64::total_cmp);
        latencies
    };
    let after = latencies(killed, killed + window);
    let before = latencies(killed - window, killed);
    Ok(Failover {
        first_served_ms: ms(first_served - killed),
        worst_after_ms: after.last().copied().unwrap_or(f64::NAN),
        p50_after_ms: percentile(&after, 0.50),
        p99_before_ms: percentile(&before, 0.99),
        failed: samples.iter().filter(|sample| !sample.ok).count(),
        requests: samples.len(),
    })
}

fn percentile(sorted: &[f64], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64) * quantile).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[derive(Debug)]
struct Latency {
    label: &'static str,
    p50_ms: f64,
    p99_ms: f64,
    outcome: String,
}

/// Sends `count` requests one at a time and returns their latencies and the
/// `x-portico-cache` values seen.
async fn timed(
    client: &reqwest::Client,
    url: &str,
    body_for: impl Fn(usize) -> Value,
    count: usize,
) -> Result<(Vec<f64>, Vec<String>), Failure> {
    let mut latencies = Vec::with_capacity(count);
    let mut outcomes = Vec::new();
    for number in 0..count {
        let body = body_for(number);
        let started = Instant::now();
        let answer = client.post(url).json(&body).send().await?;
        let outcome = answer
            .headers()
            .get("x-portico-cache")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        if !answer.status().is_success() {
            return Err(format!("{url} answered {}", answer.status()).into());
        }
        answer.bytes().await?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        if !outcomes.contains(&outcome) {
            outcomes.push(outcome);
        }
    }
    latencies.sort_by(f64::total_cmp);
    Ok((latencies, outcomes))
}

async fn cache_latency() -> Result<Vec<Latency>, Failure> {
    let mock_address = mock().await?;
    let directory = tempfile::tempdir()?;
    let gateway = portico(&directory, vec![backend("mock", mock_address)], true).await?;
    let client = reqwest::Client::new();
    let chat = format!("http://{gateway}/v1/chat/completions");
    let responses = format!("http://{gateway}/v1/responses");
    let direct = format!("http://{mock_address}/v1/chat/completions");
    let chat_body = |text: String| json!({"model": "m", "temperature": 0, "messages": [{"role": "user", "content": text}]});
    let responses_body =
        |text: String| json!({"model": "m", "temperature": 0, "store": false, "input": text});
    let mut rows = Vec::new();
    let mut measure = |label, (latencies, outcomes): (Vec<f64>, Vec<String>)| {
        rows.push(Latency {
            label,
            p50_ms: percentile(&latencies, 0.50),
            p99_ms: percentile(&latencies, 0.99),
            outcome: outcomes.join(", "),
        });
    };
    // Warm connections and fill the cache with the one repeated question.
    timed(&client, &chat, |_| chat_body("same".into()), 10).await?;
    timed(&client, &responses, |_| responses_body("same".into()), 10).await?;
    let unique = |prefix: &'static str| move |number: usize| format!("{prefix} {number}");
    // Hits first, while the repeated question is still among the entries.
    measure(
        "Chat Completions through Portico, cache hit",
        timed(&client, &chat, |_| chat_body("same".into()), CACHE_REQUESTS).await?,
    );
    measure(
        "Responses through Portico, cache hit",
        timed(
            &client,
            &responses,
            |_| responses_body("same".into()),
            CACHE_REQUESTS,
        )
        .await?,
    );
    measure(
        "Chat Completions, mock called directly",
        timed(
            &client,
            &direct,
            |number| chat_body(unique("d")(number)),
            CACHE_REQUESTS,
        )
        .await?,
    );
    measure(
        "Chat Completions through Portico, cache miss",
        timed(
            &client,
            &chat,
            |number| chat_body(unique("c")(number)),
            CACHE_REQUESTS,
        )
        .await?,
    );
    measure(
        "Responses through Portico, cache miss",
        timed(
            &client,
            &responses,
            |number| responses_body(unique("r")(number)),
            CACHE_REQUESTS,
        )
        .await?,
    );
    Ok(rows)
}

fn report(failovers: &[Failover], cache: &[Latency]) -> String {
    let mut text = String::new();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    text.push_str("## Failover and cache-hit latency (`cargo bench --bench failover`)\n\n");
    text.push_str(&format!(
        "- Date: {date}; load average before the table was written: {load}\n- Portico, two mock backends and the clients in one process on the 2-core machine; release build. Failover: {CLIENTS} clients back to back (half Chat Completions, half Responses with `store: false`), retries 0, breaker threshold 3, no active probes; the primary is killed after 1.5 s (listener closed, connections dropped).\n\n"
    ));
    text.push_str("| failover run | kill → first new request served by the fallback (ms) | p50 / worst latency of requests sent in the second after the kill (ms) | p99 in the second before (ms) | failed requests / all |\n|---|---|---|---|---|\n");
    for (number, run) in failovers.iter().enumerate() {
        text.push_str(&format!(
            "| {} | {:.2} | {:.2} / {:.2} | {:.2} | {} / {} |\n",
            number + 1,
            run.first_served_ms,
            run.p50_after_ms,
            run.worst_after_ms,
            run.p99_before_ms,
            run.failed,
            run.requests
        ));
    }
    text.push_str(&format!("\n| cache (non-streamed, {CACHE_REQUESTS} requests one at a time) | p50 (ms) | p99 (ms) | x-portico-cache |\n|---|---|---|---|\n"));
    for row in cache {
        text.push_str(&format!(
            "| {} | {:.3} | {:.3} | {} |\n",
            row.label, row.p50_ms, row.p99_ms, row.outcome
        ));
    }
    text
}

fn write_results(table: &str) -> Result<(), Failure> {
    let path = std::env::var("RESULTS_FILE")
        .unwrap_or_else(|_| format!("{}/benches/RESULTS.md", env!("CARGO_MANIFEST_DIR")));
    let (begin, end) = ("<!-- failover:begin -->", "<!-- failover:end -->");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let section = format!("{begin}\n{table}{end}");
    let updated = match (current.find(begin), current.find(end)) {
        (Some(start), Some(stop)) if stop > start => {
            format!(
                "{}{section}{}",
                &current[..start],
                &current[stop + end.len()..]
            )
        }
        _ => format!("{}\n{section}\n", current.trim_end()),
    };
    std::fs::write(&path, updated)?;
    Ok(())
}
