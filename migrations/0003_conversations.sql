-- Conversations and their items. Every row carries its owner (the project of
-- the API key that created it) and every read filters by it.
--
-- Deleting a conversation only marks it deleted: OpenAI documents that "items
-- in the conversation will not be deleted", and the conversation's id must stay
-- taken. A deleted conversation answers 404 everywhere.
CREATE TABLE conversations (
    id TEXT PRIMARY KEY NOT NULL,
    project TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- The metadata map (JSON object of strings).
    metadata TEXT NOT NULL DEFAULT '{}',
    deleted INTEGER NOT NULL DEFAULT 0,
    -- The response currently running on this conversation, if any: a second
    -- response on it is refused with `conversation_locked`. Cleared at start-up.
    locked_by TEXT
);

CREATE INDEX conversations_by_project ON conversations (project, created_at);

-- The conversation's items, oldest first by `position` (gaps are left where
-- items were deleted). Bodies are the JSON the client sees, with ids and status.
CREATE TABLE conversation_items (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    project TEXT NOT NULL,
    position INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);

CREATE INDEX conversation_items_by_item_id ON conversation_items (conversation_id, item_id);
CREATE INDEX conversation_items_by_project_item ON conversation_items (project, item_id);
