//! The measurement client of `bash benches/load/run.sh`, for what oha cannot
//! measure. Each subcommand prints one JSON object on stdout:
//!
//! * `ttft RATE SECONDS URL BODY_FILE MARKER [URL BODY_FILE MARKER…]` — sends
//!   each target's streaming request (BODY_FILE to URL) at a fixed RATE
//!   (requests/s) for SECONDS and times, from the moment each is sent (each in
//!   its own task, started on schedule), the arrival of the first body bytes
//!   containing MARKER (the first token: the first echoed word for Chat
//!   Completions, `response.output_text.delta` for Responses). With several
//!   targets their requests are interleaved (one to each in turn), so that all
//!   of them meet the same moments of the machine's noise and their
//!   difference is the gateway's, not the minute's. Latencies in ms, per
//!   target in order: `[{"p50","p90","p99","max","mean","count","errors","rps"}…]`.
//! * `streams URL BODY_FILE COUNT PID [PID…]` — opens COUNT streaming requests at
//!   once (connections opened 256 at a time), waits until every one has
//!   received its first token, then reads the resident memory of the PIDs from
//!   /proc (`VmRSS`, and `VmHWM`, the peak), and closes them all.
//! * `coldstart PORTICO_BINARY BACKEND_URL DB_PATH RUNS` — starts
//!   `portico serve` RUNS times (fresh database file each time, then once more
//!   on the existing file) and times process start → first `200` from
//!   `/healthz` (polled every 0.2 ms over raw TCP); after the last start, waits
//!   3 s and reads the idle RSS.
//!
//! Run by plain `cargo bench` (which passes `--bench`) it does nothing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{Notify, Semaphore};

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ttft") => runtime().and_then(|rt| rt.block_on(ttft(&args[1..]))),
        Some("streams") => runtime().and_then(|rt| rt.block_on(streams(&args[1..]))),
        Some("coldstart") => coldstart(&args[1..]),
        // `cargo bench` runs every bench target with `--bench`: nothing to do.
        _ => return,
    };
    match result {
        Ok(report) => println!("{report}"),
        Err(error) => {
            eprintln!("loadclient: {error}");
            std::process::exit(1);
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn arg<'a>(args: &'a [String], index: usize, name: &str) -> Result<&'a str, Failure> {
    args.get(index)
        .map(String::as_str)
        .ok_or_else(|| format!("missing argument {name}").into())
}

fn client() -> Result<reqwest::Client, Failure> {
    Ok(reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(120))
        .build()?)
}

/// Percentiles (ms) of latencies given in µs.
fn summary(mut micros: Vec<f64>, errors: usize, seconds: f64) -> Value {
    micros.sort_by(f64::total_cmp);
    let at = |quantile: f64| -> f64 {
        if micros.is_empty() {
            return f64::NAN;
        }
        let index = ((micros.len() as f64 * quantile).ceil() as usize).clamp(1, micros.len()) - 1;
        micros[index] / 1_000.0
    };
    let mean = micros.iter().sum::<f64>() / micros.len().max(1) as f64 / 1_000.0;
    json!({
        "p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": at(1.0), "mean": mean,
        "count": micros.len(), "errors": errors,
        "rps": (micros.len() + errors) as f64 / seconds,
    })
}

/// Sends one streaming request; returns µs from `scheduled` to the first
/// bytes containing `marker`, after reading the whole answer.
async fn first_token(
    client: &reqwest::Client,
    url: &str,
    body: bytes::Bytes,
    marker: &[u8],
    scheduled: Instant,
) -> Option<f64> {
    let answer = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .ok()?;
    if !answer.status().is_success() {
        return None;
    }
    let mut chunks = answer.bytes_stream();
    let mut seen: Vec<u8> = Vec::new();
    let mut at = None;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.ok()?;
        if at.is_none() {
            seen.extend_from_slice(&chunk);
            if seen.windows(marker.len()).any(|window| window == marker) {
                at = Some(scheduled.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    at
}

async fn ttft(args: &[String]) -> Result<Value, Failure> {
    let rate: f64 = arg(args, 0, "RATE")?.parse()?;
    let seconds: f64 = arg(args, 1, "SECONDS")?.parse()?;
    let mut targets = Vec::new();
    for target in args.get(2..).unwrap_or_default().chunks(3) {
        let [url, body, marker] = target else {
            return Err("each target is URL BODY_FILE MARKER".into());
        };
        targets.push((
            url.clone(),
            bytes::Bytes::from(std::fs::read(body)?),
            marker.as_bytes().to_vec(),
        ));
    }
    if targets.is_empty() {
        return Err("missing URL BODY_FILE MARKER".into());
    }
    let client = client()?;
    // Warm the connection pools.
    for (url, body, marker) in &targets {
        for _ in 0..20 {
            first_token(&client, url, body.clone(), marker, Instant::now()).await;
        }
    }
    let per_target = (rate * seconds) as usize;
    let total = per_target * targets.len();
    let period = Duration::from_secs_f64(1.0 / (rate * targets.len() as f64));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for index in 0..total {
        let scheduled = start + period * index as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let target = index % targets.len();
        let (url, body, marker) = targets[target].clone();
        let client = client.clone();
        // Timed from the send, not from `scheduled`: the timer wakes this loop
        // up to a millisecond late, which would be counted for every target.
        tasks.push((
            target,
            tokio::spawn(
                async move { first_token(&client, &url, body, &marker, Instant::now()).await },
            ),
        ));
    }
    let mut micros = vec![Vec::with_capacity(per_target); targets.len()];
    let mut errors = vec![0; targets.len()];
    for (target, task) in tasks {
        match task.await {
            Ok(Some(latency)) => micros[target].push(latency),
            _ => errors[target] += 1,
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    Ok(Value::Array(
        micros
            .into_iter()
            .zip(errors)
            .map(|(micros, errors)| summary(micros, errors, elapsed))
            .collect(),
    ))
}

/// `VmRSS` and `VmHWM` of `pid`, in MB.
fn memory(pid: &str) -> Value {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    json!({"pid": pid, "rss_mb": field("VmRSS:"), "peak_rss_mb": field("VmHWM:")})
}

async fn streams(args: &[String]) -> Result<Value, Failure> {
    let url = arg(args, 0, "URL")?.to_owned();
    let body = bytes::Bytes::from(std::fs::read(arg(args, 1, "BODY_FILE")?)?);
    let count: usize = arg(args, 2, "COUNT")?.parse()?;
    let pids: Vec<String> = args.get(3..).unwrap_or_default().to_vec();
    let before: Vec<Value> = pids.iter().map(|pid| memory(pid)).collect();
    let connecting = Arc::new(Semaphore::new(256));
    let open = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let all_open = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        let (url, body) = (url.clone(), body.clone());
        let (connecting, open, failed) = (connecting.clone(), open.clone(), failed.clone());
        let (all_open, release) = (all_open.clone(), release.clone());
        tasks.push(tokio::spawn(async move {
            // One client per stream: one connection each, nothing shared.
            let outcome = async {
                let permit = connecting.acquire().await.ok()?;
                let answer = reqwest::Client::builder()
                    .tcp_nodelay(true)
                    .build()
                    .ok()?
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .ok()
                    .filter(|answer| answer.status().is_success())?;
                let mut chunks = answer.bytes_stream();
                let first = chunks.next().await?.ok()?;
                drop(permit);
                Some((chunks, first))
            }
            .await;
            let counter = if outcome.is_some() { &open } else { &failed };
            counter.fetch_add(1, Ordering::SeqCst);
            if open.load(Ordering::SeqCst) + failed.load(Ordering::SeqCst) == count {
                all_open.notify_one();
            }
            let held = outcome;
            release.notified().await;
            drop(held);
        }));
    }
    let waited = tokio::time::timeout(Duration::from_secs(120), all_open.notified()).await;
    let opened_in = start.elapsed().as_secs_f64();
    // Let the servers settle, then read their memory while every stream is open.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during: Vec<Value> = pids.iter().map(|pid| memory(pid)).collect();
    release.notify_waiters();
    for task in tasks {
        task.abort();
    }
    Ok(json!({
        "requested": count,
        "open": open.load(Ordering::SeqCst),
        "failed": failed.load(Ordering::SeqCst),
        "timed_out": waited.is_err(),
        "opened_in_s": opened_in,
        "before": before,
        "during": during,
    }))
}

/// ms until `GET /healthz` answers 200 on `address`, polling every 0.2 ms.
fn wait_healthy(address: SocketAddr, started: Instant, limit: Duration) -> Option<f64> {
    while started.elapsed() < limit {
        if let Ok(mut stream) = TcpStream::connect(address) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let request = b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n";
            if stream.write_all(request).is_ok() {
                let mut answer = [0u8; 16];
                if stream.read(&mut answer).is_ok() && answer.starts_with(b"HTTP/1.1 200") {
                    return Some(started.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    None
}

fn free_address() -> Result<SocketAddr, Failure> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn coldstart(args: &[String]) -> Result<Value, Failure> {
    let binary = arg(args, 0, "PORTICO_BINARY")?;
    let backend = arg(args, 1, "BACKEND_URL")?;
    let database = arg(args, 2, "DB_PATH")?;
    let runs: usize = arg(args, 3, "RUNS")?.parse()?;
    let mut fresh = Vec::new();
    let mut existing = None;
    let mut idle = Value::Null;
    for run in 0..=runs {
        let reuse = run == runs;
        if !reuse {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{database}{suffix}"));
            }
        }
        let address = free_address()?;
        let started = Instant::now();
        let mut child = Command::new(binary)
            .args(["serve", "--backend", backend, "--db", database])
            .args(["--listen", &address.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let ready = wait_healthy(address, started, Duration::from_secs(10));
        if reuse {
            existing = ready;
            std::thread::sleep(Duration::from_secs(3));
            idle = memory(&child.id().to_string());
        } else if let Some(ms) = ready {
            fresh.push(ms * 1e3);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok(json!({
        "fresh_database": summary(fresh, 0, 1.0),
        "existing_database_ms": existing,
        "idle": idle,
    }))
}
