//! The log subscriber: everything goes to stderr (stdout is kept for the
//! servers' `… listening on http://ADDR` line and for command output), as
//! JSON objects one per line, or as text for a person at a terminal. The
//! level comes from `RUST_LOG` (default `info`). Lines are written by a
//! background thread in batches, off the request path (`log_buffer`): a
//! line reaches stderr within 20 ms.
//!
//! A JSON line has the event's fields at the top level (`timestamp`,
//! `level`, `message`, its own fields, `target`) and the request's span under
//! `span` (`request_id`, `method`, `route`), e.g. the line that ends a request:
//!
//! ```text
//! {"timestamp":"…","level":"INFO","message":"request finished","status":200,"duration_ms":12.3,
//!  "model":"llama","backend":"local","target":"portico::observe::body",
//!  "span":{"method":"POST","request_id":"req_…","route":"/v1/responses","name":"request"}}
//! ```

use std::io::IsTerminal;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use super::log_buffer::LogBuffer;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for log collectors).
    Json,
    /// Human-readable lines.
    Text,
}

/// Installs the global subscriber (does nothing if one is already set).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Already set (a test harness, a second call): keep that one.
    match format {
        LogFormat::Json => {
            let _ = json_subscriber(filter, LogBuffer::stderr()).try_init();
        }
        LogFormat::Text => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(LogBuffer::stderr())
                .with_ansi(std::io::stderr().is_terminal())
                .try_init();
        }
    }
}

/// Writes the log lines still waiting in the buffer (before the process ends).
pub fn flush() {
    LogBuffer::stderr().flush();
}

/// The JSON subscriber (described in the module doc), writing to `writer`.
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .finish()
}
