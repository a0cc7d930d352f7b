-- Workflows as n8n JSON (the whole document in `body`), with the columns we filter on.
CREATE TABLE workflows (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    active      BIGINT NOT NULL DEFAULT 0,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- One row per execution; `data` holds n8n's run data JSON when saved.
-- `seq` orders executions for cursor pagination on both backends.
CREATE TABLE executions (
    id           TEXT PRIMARY KEY,
    seq          BIGINT NOT NULL,
    workflow_id  TEXT NOT NULL,
    mode         TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    stopped_at   TEXT,
    data         TEXT,
    error        TEXT
);
CREATE INDEX executions_workflow_seq ON executions (workflow_id, seq);
CREATE INDEX executions_status ON executions (status);
