-- What a polling trigger has seen so far (its `state`, JSON text), per workflow and trigger
-- node. Written only after the execution that received the polled items is stored.
CREATE TABLE trigger_state (
    workflow_id  TEXT NOT NULL,
    node_name    TEXT NOT NULL,
    state        TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (workflow_id, node_name)
);
