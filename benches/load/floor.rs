//! The floor of `bash benches/load/run.sh`: the cheapest gateway that can be
//! built from Portico's own HTTP stack (axum/hyper serving, reqwest/hyper
//! calling the backend, the same tokio runtime), with nothing of a gateway in
//! it — no parsing, no validation, no state, no metrics, no logs. It forwards
//! the request's bytes to the backend and streams the answer's bytes back.
//!
//! Measured beside the mock called directly and Portico, it splits what
//! Portico adds into the cost of one more HTTP hop on this machine with this
//! stack (floor − direct), which no code of Portico's can remove, and what
//! Portico's own work adds on top of it (Portico − floor).
//!
//! `floorproxy BACKEND_BASE_URL [LISTEN_ADDRESS [SPIN_MICROSECONDS]]` prints
//! `listening on http://ADDRESS` and serves until killed. Run by plain
//! `cargo bench` (which passes `--bench`) it does nothing.
//!
//! `SPIN_MICROSECONDS` adds that much CPU work to each request (a fixed number
//! of loop rounds, calibrated at start, so a preempted request still does all
//! of it): the floor with a gateway's CPU cost and none of its code, to see how
//! the tail latency on this machine follows the CPU a request takes.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use axum::Router;

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
struct Upstream {
    client: reqwest::Client,
    base: String,
    /// Loop rounds of CPU work per request (see the module doc).
    spin_rounds: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(base) = args.first().filter(|arg| arg.starts_with("http")) else {
        // `cargo bench` runs every bench target with `--bench`: nothing to do.
        return;
    };
    let listen = args.get(1).map_or("127.0.0.1:0", String::as_str);
    let spin_micros: u64 = args.get(2).and_then(|arg| arg.parse().ok()).unwrap_or(0);
    if let Err(error) = serve(base, listen, spin_micros) {
        eprintln!("floorproxy: {error}");
        std::process::exit(1);
    }
}

fn serve(base: &str, listen: &str, spin_micros: u64) -> Result<(), Failure> {
    let spin_rounds = spin_micros * rounds_per_microsecond();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let upstream = Upstream {
            client: reqwest::Client::builder()
                .tcp_nodelay(true)
                .pool_max_idle_per_host(usize::MAX)
                .build()?,
            base: base
                .trim_end_matches('/')
                .trim_end_matches("/v1")
                .to_owned(),
            spin_rounds,
        };
        let app = Router::new().fallback(forward).with_state(upstream);
        let listener = tokio::net::TcpListener::bind(listen).await?;
        println!("listening on http://{}", listener.local_addr()?);
        // As Portico does: a streamed event leaves at once (no Nagle delay).
        let listener = listener.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
        axum::serve(listener, app).await?;
        Ok(())
    })
}

/// Sends the request's bytes on and streams the answer back, status and
/// content type kept.
async fn forward(
    State(upstream): State<Upstream>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    spin(upstream.spin_rounds);
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    let mut request = upstream
        .client
        .request(method, format!("{}{path}", upstream.base))
        .body(body);
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    match request.send().await {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status());
            if let Some(content_type) = answer.headers().get(header::CONTENT_TYPE) {
                response = response.header(header::CONTENT_TYPE, content_type);
            }
            response
                .body(Body::from_stream(answer.bytes_stream()))
                .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// `rounds` rounds of work the optimizer cannot remove.
fn spin(rounds: u64) -> u64 {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for round in 0..rounds {
        state =
            std::hint::black_box(state.rotate_left(5) ^ round).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    state
}

/// How many [`spin`] rounds this machine does in a microsecond (the best of
/// a few tries, so a preemption during calibration does not shrink it).
fn rounds_per_microsecond() -> u64 {
    const ROUNDS: u64 = 2_000_000;
    let fastest = (0..5)
        .map(|_| {
            let started = std::time::Instant::now();
            std::hint::black_box(spin(ROUNDS));
            started.elapsed()
        })
        .min()
        .unwrap_or_default();
    (ROUNDS as u128 * 1000 / fastest.as_nanos().max(1)) as u64
}
