-- Walking a previous_response_id chain (store::responses::chain_items) reads
-- only this index instead of each response's row and its JSON body: a
-- 1,000-turn chain with 2 KB bodies took 4.1 ms of SQL, 2.2 ms with it.
CREATE INDEX responses_chain ON responses (id, project, previous_response_id);
