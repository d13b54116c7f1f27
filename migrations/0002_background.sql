-- Background responses: the job a worker runs (the prepared chat request), and
-- the event log every background response writes as it goes, so that a stream
-- can be resumed byte for byte from any sequence number.
ALTER TABLE responses ADD COLUMN job TEXT;

CREATE INDEX responses_by_status ON responses (status, created_at);

CREATE TABLE response_events (
    response_id TEXT NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    sequence_number INTEGER NOT NULL,
    -- The SSE frame exactly as sent (`event: …\ndata: …\n\n`).
    frame TEXT NOT NULL,
    PRIMARY KEY (response_id, sequence_number)
);
