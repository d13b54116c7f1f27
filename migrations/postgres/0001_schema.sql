-- PostgreSQL schema: the same tables as the SQLite migrations (see ../), in
-- one step, with what several processes sharing one database need besides:
-- creation order as identity columns (SQLite's rowid), and on running work
-- (responses, runs) the lease of its owner — who holds it, its fencing token
-- (only grows; a write carrying an older one is refused) and when it expires.
-- JSON bodies stay TEXT: the wire keeps its key order byte for byte.

CREATE TABLE responses (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    previous_response_id TEXT,
    status TEXT NOT NULL,
    model TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    background BOOLEAN NOT NULL DEFAULT FALSE,
    body TEXT NOT NULL,
    job TEXT,
    expires_at BIGINT,
    lease_holder TEXT,
    lease_fence BIGINT NOT NULL DEFAULT 0,
    lease_expires_at BIGINT
);

CREATE INDEX responses_chain ON responses (id, project, previous_response_id);
CREATE INDEX responses_queued ON responses (created_at, seq) WHERE status = 'queued';
CREATE INDEX responses_in_progress ON responses (created_at) WHERE status = 'in_progress';
CREATE INDEX responses_expiring ON responses (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE response_items (
    response_id TEXT NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    side TEXT NOT NULL CHECK (side IN ('input', 'output')),
    position INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (response_id, side, position)
);

CREATE INDEX response_items_by_item_id ON response_items (item_id);

CREATE TABLE response_events (
    response_id TEXT NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    sequence_number BIGINT NOT NULL,
    frame TEXT NOT NULL,
    PRIMARY KEY (response_id, sequence_number)
);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    locked_by TEXT
);

CREATE INDEX conversations_by_project ON conversations (project, created_at);

CREATE TABLE conversation_items (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    project TEXT NOT NULL,
    position INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);

CREATE INDEX conversation_items_by_item_id ON conversation_items (conversation_id, item_id);
CREATE INDEX conversation_items_by_project_item ON conversation_items (project, item_id);

CREATE TABLE chat_completions (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    requested_model TEXT NOT NULL,
    model TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    messages TEXT NOT NULL,
    body TEXT NOT NULL
);

CREATE INDEX chat_completions_by_project ON chat_completions (project, created_at, seq);

CREATE TABLE assistant_objects (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    project TEXT NOT NULL,
    thread_id TEXT,
    run_id TEXT,
    status TEXT,
    expires_at BIGINT,
    body TEXT NOT NULL,
    job TEXT,
    lease_holder TEXT,
    lease_fence BIGINT NOT NULL DEFAULT 0,
    lease_expires_at BIGINT
);

CREATE INDEX assistant_objects_by_parent ON assistant_objects (project, kind, thread_id, seq);
CREATE INDEX assistant_objects_by_run ON assistant_objects (run_id, kind, seq);
CREATE INDEX assistant_objects_by_status ON assistant_objects (kind, status);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    project TEXT NOT NULL,
    name TEXT,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    requests_per_minute BIGINT,
    tokens_per_minute BIGINT
);

CREATE INDEX api_keys_by_created ON api_keys (created_at, id);

CREATE TABLE suspensions (
    kind TEXT NOT NULL CHECK (kind IN ('project', 'key')),
    target TEXT NOT NULL,
    suspended_at BIGINT NOT NULL,
    PRIMARY KEY (kind, target)
);

CREATE TABLE token_usage (
    project TEXT NOT NULL,
    day BIGINT NOT NULL,
    tokens BIGINT NOT NULL,
    PRIMARY KEY (project, day)
);
