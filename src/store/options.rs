//! How a store is opened: [`OpenOptions`], which only a database that
//! several processes share has a use for (SQLite ignores them).

/// How long a lease lasts unless renewed, by default (seconds).
pub const DEFAULT_LEASE_SECONDS: u64 = 30;

/// How many connections a process opens at most, by default.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// How long a lease on running work lasts unless its owner renews it
    /// (seconds; only a shared database has leases that expire).
    pub lease_seconds: u64,
    /// The most connections this process opens to a shared database.
    pub max_connections: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            lease_seconds: DEFAULT_LEASE_SECONDS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}
