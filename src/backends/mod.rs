//! Backends: where tokens come from. Every backend translates its own wire format
//! into one normalized stream of
//! [`ChatEvent`](crate::wire::chat_events::ChatEvent)s; nothing outside this folder knows
//! what a backend speaks. The engine turns those events into Responses items,
//! the chat module into Chat Completions chunks.

pub mod backend;
pub mod build;
pub mod error;
pub mod fallback;
pub mod fault;
pub mod health;
pub mod ollama;
pub mod openai_compat;
pub mod profile;
pub mod registry;
pub mod scripted;
