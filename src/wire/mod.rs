//! The wire layer, the bottom of the crate: what OpenAI's API is made of and
//! needs nothing else of Portico. Its modules are gathered here as issue 17
//! moves them (see `tests/layers.rs` for the whole order).

pub mod chat_events;
pub mod json;
pub mod query;
pub mod validate;
