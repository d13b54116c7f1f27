-- Every stored turn wrote every index of `responses`. Two of them served only
-- rare reads: `responses_by_project` (a project's unfinished background
-- responses, when its key is suspended) and `responses_by_status` (queued jobs
-- for the background workers, running ones after a restart). Those reads look
-- only for queued or running responses, a handful at any time; these partial
-- indexes hold only those rows, and a turn stored once finished writes
-- neither of them.
DROP INDEX responses_by_project;
DROP INDEX responses_by_status;
CREATE INDEX responses_queued ON responses (created_at) WHERE status = 'queued';
CREATE INDEX responses_in_progress ON responses (created_at) WHERE status = 'in_progress';
