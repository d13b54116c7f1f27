//! Persistence behind traits, one per aggregate: [`responses`] (with their
//! items, background jobs and event logs), [`conversations`], [`assistants`]
//! (assistants, threads, messages, runs, steps), [`chat_completions`] and
//! [`access`] (keys, suspensions, token usage). They are async, fallible
//! ([`error::StoreError`]), carry only wire objects and plain values, and the
//! owner's writes to running work carry a [`lease::Lease`], so that a store
//! shared by several processes can fence a stale owner.
//!
//! [`shared::SharedStore`] is what several processes on one database
//! coordinate through (leases, cancels, signals, rate windows).
//!
//! [`sqlite`] (one process, the embedded default) and [`postgres`] (one
//! database that several processes share) implement them: no `sqlx` type and
//! no SQL outside those two (and [`driver_errors`], the driver's errors turned
//! into ours). SQLite's writer task, group commit and recently-finished-
//! responses cache are its own business. [`factory::open`] picks the store for a location
//! and gives its [`factory::Store`]: every trait object of one database.

pub mod access;
pub mod assistants;
pub mod chat_completions;
pub mod conversations;
pub mod driver_errors;
pub mod error;
pub mod factory;
pub mod health;
pub mod lease;
pub mod options;
pub mod postgres;
pub mod responses;
pub mod shared;
pub mod sqlite;
