//! Per-request observability, applied to every route by one middleware
//! (`http::observe`): the request id (`x-request-id`, accepted from the
//! client or generated, echoed on every answer), a tracing span carrying it
//! around every log line of the request, the HTTP metrics, and one structured
//! log line when the answer ends. `logging` sets up the subscriber (JSON or
//! text on stderr, written in batches by `log_buffer`).

pub mod context;
pub mod log_buffer;
pub mod logging;
pub mod request_id;

pub use request_id::RequestId;
