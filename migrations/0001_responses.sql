-- Stored responses and their items. Every row carries its owner (the project of
-- the API key that created it) and every read filters by it.
CREATE TABLE responses (
    id TEXT PRIMARY KEY NOT NULL,
    project TEXT NOT NULL,
    previous_response_id TEXT,
    status TEXT NOT NULL,
    model TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    background INTEGER NOT NULL DEFAULT 0,
    -- The Response object as last emitted (JSON).
    body TEXT NOT NULL
);

CREATE INDEX responses_by_project ON responses (project, created_at);

-- Input items (as given, normalized, with ids) and output items, in order.
CREATE TABLE response_items (
    response_id TEXT NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    side TEXT NOT NULL CHECK (side IN ('input', 'output')),
    position INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (response_id, side, position)
);

CREATE INDEX response_items_by_item_id ON response_items (item_id);
