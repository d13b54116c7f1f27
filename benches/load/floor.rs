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
//! `floorproxy BACKEND_BASE_URL [LISTEN_ADDRESS]` prints
//! `listening on http://ADDRESS` and serves until killed. Run by plain
//! `cargo bench` (which passes `--bench`) it does nothing.

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
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(base) = args.first().filter(|arg| arg.starts_with("http")) else {
        // `cargo bench` runs every bench target with `--bench`: nothing to do.
        return;
    };
    let listen = args.get(1).map_or("127.0.0.1:0", String::as_str);
    if let Err(error) = serve(base, listen) {
        eprintln!("floorproxy: {error}");
        std::process::exit(1);
    }
}

fn serve(base: &str, listen: &str) -> Result<(), Failure> {
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
