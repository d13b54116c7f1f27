//! The gateway's series ([`Metrics`]): requests, latencies, time to first
//! token, tokens, backend calls and errors, circuits, cache outcomes, what is
//! in flight, and the gateway's own added latency; rendered for `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use super::registry::{Counter, Family, Gauge, Histogram};
use super::render::Render;

use crate::backends::error::BackendError;

/// Request durations: from a few milliseconds to long generations.
const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
/// Time to first token: prompt processing on local hardware.
const TTFT_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
];
/// The gateway's own overhead: fractions of a millisecond upward.
const ADDED_LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

use crate::backends::health::CircuitState;
use crate::cache::CacheOutcome;

/// How a backend request ended (`portico_backend_requests_total{outcome}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendOutcome {
    /// The answer arrived whole.
    Success,
    /// The backend failed, before or during its answer.
    Error,
    /// The gateway stopped reading first (client gone, response cancelled).
    Cancelled,
}

impl BackendOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
        }
    }
}

/// The `kind` label of `portico_backend_errors_total` for a backend failure:
/// `unreachable`, `timeout`, `status` or `stream`.
pub fn error_kind(error: &BackendError) -> &'static str {
    match error {
        BackendError::Unreachable(_) => "unreachable",
        BackendError::Timeout(_) => "timeout",
        BackendError::Status { .. } => "status",
        BackendError::Stream(_) => "stream",
    }
}

struct Series {
    requests: Family<Counter>,
    request_duration: Family<Histogram>,
    in_flight: Family<Gauge>,
    backend_requests: Family<Counter>,
    backend_duration: Family<Histogram>,
    time_to_first_token: Family<Histogram>,
    tokens: Family<Counter>,
    backend_errors: Family<Counter>,
    added_latency: Family<Histogram>,
    circuit_state: Family<Gauge>,
    cache: Family<Counter>,
}

/// The handle to every series (clones share them).
#[derive(Clone)]
pub struct Metrics {
    series: Arc<Series>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of series (one per server, so tests do not share counts).
    pub fn new() -> Self {
        let histogram = |bounds: &'static [f64]| move || Histogram::new(bounds);
        let series = Series {
            requests: Family::new("portico_requests_total", "HTTP requests answered, by matched route template, method, status, and the model and backend called (empty when none).", &["route", "method", "status", "model", "backend"], Counter::default),
            request_duration: Family::new("portico_request_duration_seconds", "Time from a request's arrival to the end of its answer (the last byte of a stream).", &["route", "method", "status", "model", "backend"], histogram(DURATION_BUCKETS)),
            in_flight: Family::new("portico_in_flight_requests", "Requests being served (streams until their last byte).", &[], Gauge::default),
            backend_requests: Family::new("portico_backend_requests_total", "Requests sent to backends, by outcome (success, error, cancelled).", &["model", "backend", "outcome"], Counter::default),
            backend_duration: Family::new("portico_backend_request_duration_seconds", "Time from sending a request to a backend to its answer's end (or its failure, or the gateway's stop), by outcome.", &["model", "backend", "outcome"], histogram(DURATION_BUCKETS)),
            time_to_first_token: Family::new("portico_time_to_first_token_seconds", "Time from sending a streamed request to a backend to its first event.", &["model", "backend"], histogram(TTFT_BUCKETS)),
            tokens: Family::new("portico_tokens_total", "Tokens backends reported, by direction (input, output).", &["model", "backend", "direction"], Counter::default),
            backend_errors: Family::new("portico_backend_errors_total", "Backend failures, by kind (unreachable, timeout, status, stream).", &["backend", "kind"], Counter::default),
            added_latency: Family::new("portico_gateway_added_latency_seconds", "Time the gateway added to requests that called a backend: time to the client's first byte minus the time spent waiting for the backend.", &[], histogram(ADDED_LATENCY_BUCKETS)),
            circuit_state: Family::new("portico_circuit_state", "Circuit breaker state per backend: 0 closed, 1 half-open, 2 open.", &["backend"], Gauge::default),
            cache: Family::new("portico_cache_total", "Response cache lookups, by outcome (hit, miss, shared).", &["outcome"], Counter::default),
        };
        // Series without labels, and the cache outcomes, are shown from the start.
        series.in_flight.with(&[], |_| ());
        for outcome in [CacheOutcome::Hit, CacheOutcome::Miss, CacheOutcome::Shared] {
            if let Some(label) = outcome.header_value() {
                series.cache.with(&[label], |_| ());
            }
        }
        Self {
            series: Arc::new(series),
        }
    }

    /// Counts one answered request and observes its duration; `model` and
    /// `backend` are the ones it called (empty when it called none).
    pub fn record_request(
        &self,
        route: &str,
        method: &str,
        status: &str,
        model_and_backend: (&str, &str),
        duration: Duration,
    ) {
        let labels = [
            route,
            method,
            status,
            model_and_backend.0,
            model_and_backend.1,
        ];
        self.series.requests.with(&labels, |counter| counter.add(1));
        self.series.request_duration.with(&labels, |histogram| {
            histogram.observe(duration.as_secs_f64())
        });
    }

    /// One more request in flight until the returned guard is dropped.
    pub fn in_flight(&self) -> InFlight {
        self.series.in_flight.with(&[], |gauge| gauge.add(1));
        InFlight {
            metrics: self.clone(),
        }
    }

    /// Counts one backend request by its outcome.
    pub fn record_backend_request(&self, model: &str, backend: &str, outcome: BackendOutcome) {
        self.series
            .backend_requests
            .with(&[model, backend, outcome.as_str()], |counter| {
                counter.add(1)
            });
    }

    /// Observes how long one backend request took, by its outcome.
    pub fn record_backend_duration(
        &self,
        model: &str,
        backend: &str,
        outcome: BackendOutcome,
        elapsed: Duration,
    ) {
        self.series
            .backend_duration
            .with(&[model, backend, outcome.as_str()], |histogram| {
                histogram.observe(elapsed.as_secs_f64())
            });
    }

    /// Observes a backend's time to first token.
    pub fn record_time_to_first_token(&self, model: &str, backend: &str, elapsed: Duration) {
        self.series
            .time_to_first_token
            .with(&[model, backend], |histogram| {
                histogram.observe(elapsed.as_secs_f64())
            });
    }

    /// Adds the tokens a backend reported for one request.
    pub fn record_tokens(&self, model: &str, backend: &str, input: u64, output: u64) {
        for (direction, count) in [("input", input), ("output", output)] {
            self.series
                .tokens
                .with(&[model, backend, direction], |counter| counter.add(count));
        }
    }

    /// Counts one backend failure by its kind.
    pub fn record_backend_error(&self, backend: &str, error: &BackendError) {
        self.series
            .backend_errors
            .with(&[backend, error_kind(error)], |counter| counter.add(1));
    }

    /// Observes the gateway's added latency for one request.
    pub fn record_gateway_added_latency(&self, added: Duration) {
        self.series
            .added_latency
            .with(&[], |histogram| histogram.observe(added.as_secs_f64()));
    }

    /// Hook for the circuit breaker: sets `portico_circuit_state{backend}` to
    /// 0 (closed), 1 (half-open) or 2 (open). Call it on every transition,
    /// and once per backend at start-up (closed).
    pub fn set_circuit_state(&self, backend: &str, state: CircuitState) {
        self.series
            .circuit_state
            .with(&[backend], |gauge| gauge.set(state.as_gauge()));
    }

    /// Hook for the response cache: counts one lookup as a hit, a miss, or a
    /// request that shared another's in-flight backend call.
    pub fn record_cache(&self, outcome: CacheOutcome) {
        if let Some(label) = outcome.header_value() {
            self.series.cache.with(&[label], |counter| counter.add(1));
        }
    }

    /// Every series in the Prometheus text format.
    pub fn render(&self) -> String {
        let series = &self.series;
        let families: [&dyn Render; 11] = [
            &series.requests,
            &series.request_duration,
            &series.in_flight,
            &series.backend_requests,
            &series.backend_duration,
            &series.time_to_first_token,
            &series.tokens,
            &series.backend_errors,
            &series.added_latency,
            &series.circuit_state,
            &series.cache,
        ];
        let mut out = String::with_capacity(8192);
        for family in families {
            family.render(&mut out);
        }
        out
    }
}

/// A request in flight; dropping it takes it out of `portico_in_flight_requests`.
#[derive(Debug)]
pub struct InFlight {
    metrics: Metrics,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.metrics
            .series
            .in_flight
            .with(&[], |gauge| gauge.add(-1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_described_and_hooks_record() {
        let metrics = Metrics::new();
        metrics.set_circuit_state("local", CircuitState::Open);
        metrics.record_cache(CacheOutcome::Shared);
        metrics.record_backend_error("local", &BackendError::Timeout("slow".into()));
        let text = metrics.render();
        for name in [
            "portico_requests_total",
            "portico_request_duration_seconds",
            "portico_in_flight_requests",
            "portico_backend_requests_total",
            "portico_time_to_first_token_seconds",
            "portico_tokens_total",
            "portico_backend_errors_total",
            "portico_gateway_added_latency_seconds",
            "portico_circuit_state",
            "portico_cache_total",
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} missing:\n{text}"
            );
        }
        assert!(text.contains("portico_circuit_state{backend=\"local\"} 2\n"));
        assert!(text.contains("portico_cache_total{outcome=\"shared\"} 1\n"));
        assert!(text.contains("portico_cache_total{outcome=\"hit\"} 0\n"));
        assert!(
            text.contains("portico_backend_errors_total{backend=\"local\",kind=\"timeout\"} 1\n")
        );
        assert!(text.contains("portico_in_flight_requests 0\n"));
    }

    #[test]
    fn the_in_flight_gauge_follows_its_guards() {
        let metrics = Metrics::new();
        let first = metrics.in_flight();
        let second = metrics.in_flight();
        assert!(metrics.render().contains("portico_in_flight_requests 2\n"));
        drop(first);
        drop(second);
        assert!(metrics.render().contains("portico_in_flight_requests 0\n"));
    }
}
