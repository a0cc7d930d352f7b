-- `seq` becomes a sequence-backed key: MAX(seq)+1 could hand two concurrent inserts the
-- same value (and scanned the whole table). Existing rows are renumbered in their old
-- order (seq, then id for ties) so that every value is unique.
UPDATE executions SET seq = ordered.n
    FROM (SELECT id, row_number() OVER (ORDER BY seq, id) AS n FROM executions) AS ordered
    WHERE executions.id = ordered.id;
CREATE SEQUENCE executions_seq_seq OWNED BY executions.seq;
SELECT setval('executions_seq_seq', COALESCE((SELECT MAX(seq) FROM executions), 0) + 1, false);
ALTER TABLE executions ALTER COLUMN seq SET DEFAULT nextval('executions_seq_seq');
CREATE UNIQUE INDEX executions_seq ON executions (seq);
-- Pruning by age looks at finished executions by stop time.
CREATE INDEX executions_stopped_at ON executions (stopped_at);
