-- Assistants API v2: assistants, threads, thread messages, runs and run steps,
-- in one table of objects. Every row carries its owner (the project of the API
-- key that created it) and every read filters by it. `seq` orders lists (the
-- order objects were created in); `body` is the JSON the client sees.
CREATE TABLE assistant_objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    -- assistant | thread | message | run | step
    kind TEXT NOT NULL,
    project TEXT NOT NULL,
    -- The thread of a message, run or step.
    thread_id TEXT,
    -- The run of a step, or of a message a run created.
    run_id TEXT,
    -- A run's or step's status (for the one-active-run rule, recovery, expiry).
    status TEXT,
    -- A run's `expires_at` while it may still expire.
    expires_at INTEGER,
    body TEXT NOT NULL,
    -- A run's engine state between segments (what the wire object does not carry).
    job TEXT
);

CREATE INDEX assistant_objects_by_parent ON assistant_objects (project, kind, thread_id, seq);
CREATE INDEX assistant_objects_by_run ON assistant_objects (run_id, kind, seq);
CREATE INDEX assistant_objects_by_status ON assistant_objects (kind, status);
