-- API keys for /api/v1. Only the SHA-256 of the key is stored: keys are 256-bit random
-- strings, so a fast hash is enough and a lookup stays one indexed read.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);
