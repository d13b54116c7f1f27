//! The middleware every route goes through (added last in `app::router`, with
//! `Router::layer`, so that it runs after routing and sees the matched route
//! template). For each request it:
//!
//! 1. takes the client's `x-request-id` or makes one, and puts it in the
//!    request's extensions ([`RequestId`]);
//! 2. opens the `request` span (`request_id`, `method`, `route`) that the
//!    handler, its spawned response task and the answer's body run in;
//! 3. counts the request in flight and serves it with a fresh
//!    [`RequestContext`] as the task's current one;
//! 4. sets `x-request-id` on the answer, whatever it is (errors included),
//!    and wraps its body so that the request is recorded when it ends
//!    (see [`crate::http::observed_body`]).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::http::observed_body::{Finish, ObservedBody};
use crate::metrics::gateway::Metrics;
use crate::observe::context::RequestContext;
use crate::observe::request_id::{RequestId, HEADER};

/// The `route` label of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Observes one request (see the module doc).
pub async fn observe(State(metrics): State<Metrics>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = RequestId::from_headers(request.headers());
    let route: Arc<str> = request.extensions().get::<MatchedPath>().map_or_else(
        || Arc::from(UNMATCHED_ROUTE),
        |path| Arc::from(path.as_str()),
    );
    let method = method_label(request.method());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id.0,
        method = %method,
        route = %route,
    );
    let header_value = request_id.header_value();
    request.extensions_mut().insert(request_id);
    let context = Arc::new(RequestContext::new(started));
    let mut finish = Finish::new(metrics, Arc::clone(&context), route, method, span.clone());
    let mut response = context.scope(next.run(request).instrument(span)).await;
    if let Some(value) = header_value {
        response.headers_mut().insert(HEADER, value);
    }
    finish.status = Some(response.status());
    finish.streamed = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/event-stream"));
    response.map(|body| axum::body::Body::new(ObservedBody::new(body, finish)))
}

/// The `method` label: the standard methods by name, anything else `other`
/// (a client cannot add label values at will).
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    fn app(metrics: &Metrics) -> Router {
        Router::new()
            .route("/items/{item_id}", get(|| async { "item" }))
            .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "none") })
            .layer(axum::middleware::from_fn_with_state(
                metrics.clone(),
                observe,
            ))
    }

    async fn send(app: Router, uri: &str, request_id: Option<&str>) -> Response {
        let mut request = Request::builder().uri(uri);
        if let Some(id) = request_id {
            request = request.header(HEADER, id);
        }
        let response = app
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        Response::from_parts(parts, Body::from(bytes))
    }

    #[tokio::test]
    async fn requests_are_counted_by_route_template_and_carry_their_id() {
        let metrics = Metrics::new();
        let answer = send(app(&metrics), "/items/it_123", Some("client-1")).await;
        assert_eq!(answer.headers()[HEADER], "client-1");
        let missing = send(app(&metrics), "/nowhere/it_456", None).await;
        assert_eq!(missing.status(), 404);
        assert!(missing.headers()[HEADER]
            .to_str()
            .unwrap()
            .starts_with("req_"));
        let text = metrics.render();
        assert!(text.contains("portico_requests_total{route=\"/items/{item_id}\",method=\"GET\",status=\"200\",model=\"\",backend=\"\"} 1\n"), "{text}");
        assert!(
            text.contains(
                "portico_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\",model=\"\",backend=\"\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            !text.contains("it_123") && !text.contains("it_456"),
            "{text}"
        );
        assert!(text.contains("portico_in_flight_requests 0\n"), "{text}");
    }

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }

    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn every_log_line_of_a_request_carries_its_id_and_the_last_one_sums_it_up() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = crate::observe::logging::json_subscriber(
            tracing_subscriber::EnvFilter::new("info"),
            move || writer.clone(),
        );
        // `tracing` caches each callsite's interest process-wide, computed by
        // the first thread to reach it; with one dispatcher registered that is
        // the reaching thread's own, and a sibling test with no subscriber
        // would cache `never` and silence the line here. A second, always
        // interested dispatcher makes the cache the union of both.
        let _anchor = tracing::Dispatch::new(tracing_subscriber::registry());
        let _default = tracing::subscriber::set_default(subscriber);
        tracing::callsite::rebuild_interest_cache();
        let metrics = Metrics::new();
        let app = Router::new()
            .route(
                "/items/{item_id}",
                get(|| async {
                    tracing::info!("looking the item up");
                    "item"
                }),
            )
            .layer(axum::middleware::from_fn_with_state(metrics, observe));
        send(app, "/items/it_1", Some("client-9")).await;
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        for line in &lines {
            assert_eq!(line["span"]["request_id"], "client-9", "{line}");
            assert_eq!(line["span"]["route"], "/items/{item_id}", "{line}");
            assert_eq!(line["span"]["method"], "GET", "{line}");
        }
        assert_eq!(lines[1]["message"], "request finished");
        assert_eq!(lines[1]["level"], "INFO");
        assert_eq!(lines[1]["status"], 200);
        assert!(lines[1]["duration_ms"].is_number());
    }
}
