-- Stored chat completions (`store: true` on POST /v1/chat/completions). Every
-- row carries its owner (the project of the API key that created it) and every
-- read filters by it. Deleting a completion deletes its row.
CREATE TABLE chat_completions (
    id TEXT PRIMARY KEY NOT NULL,
    project TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- The model the request named, and the one the answer named (the `model`
    -- filter of the list matches either).
    requested_model TEXT NOT NULL,
    model TEXT NOT NULL,
    -- The metadata map (JSON object of strings); the only thing that can change.
    metadata TEXT NOT NULL DEFAULT '{}',
    -- The request's messages (JSON array), as sent.
    messages TEXT NOT NULL,
    -- The stored completion as the retrieve endpoint shows it (JSON object),
    -- with `metadata` filled in from the column above when read.
    body TEXT NOT NULL
);

CREATE INDEX chat_completions_by_project ON chat_completions (project, created_at);
