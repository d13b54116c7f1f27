//! The wire layer, the bottom of the crate: what OpenAI's API is made of,
//! needing nothing else of Portico. The error type and its envelope, ids,
//! every resource's objects, request types and validators (`responses`,
//! `conversations`, `assistants`, `threads`, `runs`, `chat`, `embeddings`,
//! `admin`), the validators they share (`validate`, `strict_schema`), JSON and
//! query parsing with OpenAI's wording (`json`, `query`), and the normalized
//! chat vocabulary every backend answers in (`chat_events`).

pub mod admin;
pub mod assistants;
pub mod chat;
pub mod chat_events;
pub mod conversations;
pub mod embeddings;
pub mod error;
pub mod ids;
pub mod json;
pub mod query;
pub mod responses;
pub mod runs;
pub mod strict_schema;
pub mod threads;
pub mod validate;
