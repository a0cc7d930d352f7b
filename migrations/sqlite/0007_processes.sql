-- Server processes on one database: each `switchyard start` registers itself and keeps a
-- heartbeat, and every execution names the process running it. A starting server marks
-- `crashed` only the executions of processes that are gone, not those of a live neighbour.
CREATE TABLE processes (
    id            TEXT PRIMARY KEY,
    host          TEXT NOT NULL,
    pid           BIGINT NOT NULL,
    started_at    TEXT NOT NULL,
    heartbeat_at  TEXT NOT NULL
);
ALTER TABLE executions ADD COLUMN process_id TEXT;
