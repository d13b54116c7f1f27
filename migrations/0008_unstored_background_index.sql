-- Background responses created without `store: true` expire (see
-- background::retention). The sweeper finds them through this partial index,
-- which holds only those rows, instead of scanning every stored response.
CREATE INDEX responses_unstored_background ON responses (created_at)
    WHERE background = 1 AND json_extract(body, '$.store') = 0;
