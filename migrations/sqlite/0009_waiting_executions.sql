-- Executions stopped at a Wait node (status `waiting`): when to resume them (n8n's
-- `waitTill`, RFC 3339 UTC with milliseconds, so text order is time order) and where
-- (the node stack and the run so far, JSON).
ALTER TABLE executions ADD COLUMN wait_till TEXT;
ALTER TABLE executions ADD COLUMN resume_state TEXT;
CREATE INDEX executions_wait_till ON executions (wait_till);
