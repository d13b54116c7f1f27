-- Keys, limits and the kill switch: API keys issued through the admin API
-- (keys from the config file are not stored), the projects and keys that are
-- suspended, and the tokens each project used per UTC day (daily budgets).
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    -- SHA-256 of the secret, lowercase hex. The secret itself is never stored.
    key_hash TEXT NOT NULL UNIQUE,
    project TEXT NOT NULL,
    name TEXT,
    created_at INTEGER NOT NULL,
    -- Set when the key is revoked; a revoked key never works again.
    revoked_at INTEGER,
    -- NULL: unlimited.
    requests_per_minute INTEGER,
    tokens_per_minute INTEGER
);

CREATE INDEX api_keys_by_created ON api_keys (created_at, id);

-- What the kill switch turned off: `kind` is `project` (target: its name) or
-- `key` (target: the key's id).
CREATE TABLE suspensions (
    kind TEXT NOT NULL CHECK (kind IN ('project', 'key')),
    target TEXT NOT NULL,
    suspended_at INTEGER NOT NULL,
    PRIMARY KEY (kind, target)
);

-- Tokens used by a project on a UTC day (days since the Unix epoch).
CREATE TABLE token_usage (
    project TEXT NOT NULL,
    day INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    PRIMARY KEY (project, day)
);
