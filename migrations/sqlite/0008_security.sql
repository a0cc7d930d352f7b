-- API keys: when each was last used, for `switchyard api-key list` (written at most once a
-- minute per key). A revoked key's row is deleted, so the per-request lookup misses it.
ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;

-- Which active workflow owns each production webhook. The primary key decides a collision in
-- the database, so two concurrent activations cannot both win. Dynamic segments (`:id`) are
-- stored as `:`, so `user/:id` and `user/:name` collide as they would at lookup.
CREATE TABLE webhook_paths (
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    workflow_id  TEXT NOT NULL,
    node_name    TEXT NOT NULL,
    PRIMARY KEY (method, path)
);
CREATE INDEX webhook_paths_workflow_id ON webhook_paths (workflow_id);
