-- What a trigger remembers (JSON text), per workflow and trigger node: a polling trigger's
-- state, written only after the execution that received the polled items is stored, or a
-- schedule's last fire per rule (n8n's `recurrenceRules`).
CREATE TABLE trigger_state (
    workflow_id  TEXT NOT NULL,
    node_name    TEXT NOT NULL,
    state        TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (workflow_id, node_name)
);
