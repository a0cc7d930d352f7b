-- Pending OAuth2 connect attempts, one row per authorize URL handed out. The row is
-- deleted when its callback arrives (single use: the DELETE decides which callback wins)
-- or, once expired, when the next attempt starts. The PKCE verifier is sealed with the
-- key ring (associated data "oauth_states/{id}") and never leaves the server.
CREATE TABLE oauth_states (
    id               TEXT PRIMARY KEY,
    credential_id    TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    verifier_key_id  TEXT NOT NULL,
    verifier         BYTEA NOT NULL,
    redirect_uri     TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL
);
CREATE INDEX oauth_states_expires_at ON oauth_states (expires_at);
CREATE INDEX oauth_states_credential_id ON oauth_states (credential_id);
