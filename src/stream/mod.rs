//! Server-sent event grammars. `responses` is the Responses API's grammar as a
//! pure state machine (no I/O); `sse` frames events for the wire. The same
//! builder feeds the live stream, the stored final object and (later) the stored
//! event log used to resume streams, so all three always agree.

pub mod assistant_events;
pub mod assistants;
pub mod chat;
pub mod errors;
pub mod events;
pub mod responses;
pub mod sse;

pub use events::ResponseStreamEvent;
pub use responses::{GrammarError, ResponseStreamBuilder};
