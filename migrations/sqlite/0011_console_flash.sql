-- The console answers a successful form post with a redirect to a page (post, redirect, get:
-- reloading the page does not post again). The message that page shows once ("Activated",
-- "Revoked API key ...") waits in the session's row: JSON `[ok, text]`, cleared when shown.
ALTER TABLE console_sessions ADD COLUMN flash TEXT;

-- The console's executions list filters by status, newest first.
CREATE INDEX executions_status_seq ON executions (status, seq);
