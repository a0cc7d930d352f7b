-- `seq` becomes an autoincrement key: MAX(seq)+1 could hand two concurrent inserts the
-- same value (and scanned the whole table). Rebuilt because SQLite cannot alter a column;
-- the old order (seq, then id for ties) is kept and renumbered without ties.
CREATE TABLE executions_new (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    workflow_id  TEXT NOT NULL,
    mode         TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    stopped_at   TEXT,
    data         TEXT,
    error        TEXT
);
INSERT INTO executions_new (id, workflow_id, mode, status, started_at, stopped_at, data, error)
    SELECT id, workflow_id, mode, status, started_at, stopped_at, data, error
    FROM executions ORDER BY seq, id;
DROP TABLE executions;
ALTER TABLE executions_new RENAME TO executions;
CREATE INDEX executions_workflow_seq ON executions (workflow_id, seq);
CREATE INDEX executions_status ON executions (status);
-- Pruning by age looks at finished executions by stop time.
CREATE INDEX executions_stopped_at ON executions (stopped_at);
