-- What several replicas on one database need beyond the aggregates:
-- a cancel asked on one replica for a response another one runs (the owner
-- polls the flag and is also notified); when a conversation's mark was set
-- (a mark whose response never started is released once it is older than a
-- lease); and the rate-limit windows every replica counts in.

ALTER TABLE responses ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE conversations ADD COLUMN locked_at BIGINT;

CREATE INDEX responses_leased ON responses (lease_expires_at) WHERE status = 'in_progress';
CREATE INDEX assistant_objects_leased ON assistant_objects (lease_expires_at)
    WHERE kind = 'run' AND status IN ('in_progress', 'cancelling');

-- One row per counted request or finished response's tokens of a limited
-- key; `at_ms` is the database's clock (every replica reads the same one).
CREATE TABLE rate_events (
    key_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('requests', 'tokens')),
    at_ms BIGINT NOT NULL,
    amount BIGINT NOT NULL
);

CREATE INDEX rate_events_by_key ON rate_events (key_id, kind, at_ms);
