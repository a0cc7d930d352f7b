-- Credentials: the user's fields and the token data, each sealed with AES-256-GCM.
-- `*_key_id` names the key that sealed the blob (nonce || ciphertext || tag).
CREATE TABLE credentials (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    type            TEXT NOT NULL,
    data_key_id     TEXT NOT NULL,
    data            BLOB NOT NULL,
    token_key_id    TEXT,
    token_data      BLOB,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX credentials_data_key_id ON credentials (data_key_id);
CREATE INDEX credentials_token_key_id ON credentials (token_key_id);

-- Who did what to which credential, and when. Never holds a secret.
CREATE TABLE credential_audit (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              TEXT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    credential_id   TEXT NOT NULL,
    credential_name TEXT
);
CREATE INDEX credential_audit_credential_id ON credential_audit (credential_id);
