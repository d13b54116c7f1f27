//! The tests' nginx load balancer (`tests/support/nginx.rs`) in front of
//! tiny HTTP servers: requests take turns between them, an SSE stream comes
//! through event by event, and a dead server is skipped, for a POST too when
//! it refuses the connection (nothing was sent to it); a POST that reached a
//! server which then hung up is answered 502, never re-sent to another.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use futures::StreamExt;
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;

#[path = "support/nginx.rs"]
mod nginx;

use nginx::LoadBalancer;

const EVENTS: usize = 5;

/// A server on its own thread and runtime, so that dropping it closes its
/// listener and every open connection, as a killed replica would.
struct Upstream {
    address: SocketAddr,
    seen: Arc<Seen>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// What an upstream has done, for the tests to check.
#[derive(Default)]
struct Seen {
    last_event_sent: AtomicBool,
    posts: AtomicUsize,
}

impl Upstream {
    /// Answers `/who` (GET or POST, counted) with `name`; `GET /stream` sends
    /// `EVENTS` SSE events 200 ms apart.
    fn start(name: &'static str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let post = move |State(seen): State<Arc<Seen>>| async move {
            seen.posts.fetch_add(1, Ordering::SeqCst);
            name
        };
        let app = Router::new()
            .route("/who", get(move || async move { name }).post(post))
            .route("/stream", get(slow_events))
            .with_state(seen.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stopped => {}
                }
            });
        });
        Self {
            address,
            seen,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        drop(self.stop.take());
        self.thread.take().unwrap().join().unwrap();
    }
}

/// A server that reads the start of each request and hangs up unanswered.
async fn hang_up_after_reading() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut connection, _)) = listener.accept().await {
            let _ = connection.read(&mut [0; 4096]).await;
        }
    });
    address
}

async fn slow_events(State(seen): State<Arc<Seen>>) -> impl IntoResponse {
    let events = futures::stream::iter(1..=EVENTS).then(move |number| {
        let seen = seen.clone();
        async move {
            if number > 1 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            seen.last_event_sent
                .store(number == EVENTS, Ordering::SeqCst);
            Ok::<_, Infallible>(format!("data: {number}\n\n"))
        }
    });
    (
        [(CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(events),
    )
}

/// Who answered `method /who` through the balancer (the status must be 200).
async fn who(client: &reqwest::Client, balancer: &LoadBalancer, method: &str) -> String {
    let url = format!("http://{}/who", balancer.address);
    let request = match method {
        "POST" => client.post(url).body("{}"),
        _ => client.get(url),
    };
    let answer = request.send().await.unwrap();
    let status = answer.status();
    let body = answer.text().await.unwrap();
    assert_eq!(
        status,
        200,
        "{method} /who: {body}\n{}",
        balancer.log_tail()
    );
    body
}

#[tokio::test]
async fn requests_take_turns_between_the_upstreams() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let Some(balancer) = LoadBalancer::start(&[a.address, b.address]) else {
        return;
    };
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(who(&client, &balancer, "GET").await);
    }
    answers.sort();
    assert_eq!(answers, ["a", "a", "b", "b"]);
}

#[tokio::test]
async fn an_sse_stream_comes_through_event_by_event() {
    let upstream = Upstream::start("a");
    let Some(balancer) = LoadBalancer::start(&[upstream.address]) else {
        return;
    };
    let url = format!("http://{}/stream", balancer.address);
    let mut answer = reqwest::get(url).await.unwrap();
    assert_eq!(answer.status(), 200, "{}", balancer.log_tail());
    let first = answer.chunk().await.unwrap().unwrap();
    assert_eq!(&first[..], b"data: 1\n\n");
    assert!(
        !upstream.seen.last_event_sent.load(Ordering::SeqCst),
        "the first event waited for the last one: nginx buffered the stream"
    );
    let mut body = String::from_utf8(first.to_vec()).unwrap();
    while let Some(chunk) = answer.chunk().await.unwrap() {
        body.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let expected: String = (1..=EVENTS).map(|n| format!("data: {n}\n\n")).collect();
    assert_eq!(body, expected);
}

#[tokio::test]
async fn a_dropped_upstream_is_skipped_and_the_other_serves_every_request() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let Some(balancer) = LoadBalancer::start(&[a.address, b.address]) else {
        return;
    };
    let client = reqwest::Client::new();
    let mut before = Vec::new();
    for _ in 0..2 {
        before.push(who(&client, &balancer, "GET").await);
    }
    before.sort();
    assert_eq!(before, ["a", "b"]);
    drop(a);
    for method in ["GET", "GET", "GET", "POST", "POST"] {
        assert_eq!(who(&client, &balancer, method).await, "b");
    }
}

#[tokio::test]
async fn a_post_to_an_upstream_that_refuses_the_connection_goes_to_the_other() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let Some(balancer) = LoadBalancer::start(&[a.address, b.address]) else {
        return;
    };
    drop(a);
    let client = reqwest::Client::new();
    for _ in 0..4 {
        assert_eq!(who(&client, &balancer, "POST").await, "b");
    }
    assert!(
        balancer.log_tail().contains("Connection refused"),
        "nginx never tried the dropped upstream:\n{}",
        balancer.log_tail()
    );
}

#[tokio::test]
async fn a_post_whose_upstream_hung_up_is_answered_502_and_not_sent_again() {
    let b = Upstream::start("b");
    let hang_up = hang_up_after_reading().await;
    let Some(balancer) = LoadBalancer::start(&[hang_up, b.address]) else {
        return;
    };
    let client = reqwest::Client::new();
    let url = format!("http://{}/who", balancer.address);
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let answer = client.post(&url).body("{}").send().await.unwrap();
        statuses.push(answer.status().as_u16());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 502], "{}", balancer.log_tail());
    assert_eq!(b.seen.posts.load(Ordering::SeqCst), 1);
}
