-- Background responses created without `store: true` are echoed `store: true`
-- when the request left `store` out (as OpenAI's newest recording shows) but
-- still expire about ten minutes after their creation (as OpenAI's docs say):
-- the echo no longer tells which rows expire, so the row says when it does.
-- NULL: kept until deleted.
ALTER TABLE responses ADD COLUMN expires_at INTEGER;

UPDATE responses SET expires_at = created_at + 600
    WHERE background = 1 AND json_extract(body, '$.store') = 0;

DROP INDEX responses_unstored_background;

CREATE INDEX responses_expiring ON responses (expires_at) WHERE expires_at IS NOT NULL;
