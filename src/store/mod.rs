//! Persistence in SQLite. The [`Database`](database::Database) is opened in `database` (WAL, busy timeout,
//! foreign keys, migrations applied): a pool, and the writer of the hot path's
//! transactions. Each resource has a file of plain functions over the pool or
//! a transaction, with its own row types.

pub mod assistants;
pub mod atomic_write;
pub mod background;
pub mod chat_completions;
pub mod conversations;
pub mod database;
pub mod keys;
pub mod recent;
pub mod responses;
pub mod runs;
pub mod threads;
pub mod writer;
