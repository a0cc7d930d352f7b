-- The web console (`/`): its one owner account, its sign-in sessions, and the last test of
-- each credential as the console shows it.

-- The owner. The fixed id makes a second owner a primary-key collision, so two concurrent
-- setups cannot both win. The password is an Argon2id PHC string.
CREATE TABLE console_owner (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    name           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

-- Signed-in browsers. Only the SHA-256 of the session cookie is stored; signing out deletes
-- the row, so the cookie is refused from then on. `csrf` is the token every form carries.
CREATE TABLE console_sessions (
    token_hash  TEXT PRIMARY KEY,
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

-- The outcome of the last "Test" of each credential: `OK` or `Error` with the plugin's message
-- (which names the setup step to fix, never a secret).
CREATE TABLE console_credential_tests (
    credential_id  TEXT PRIMARY KEY,
    status         TEXT NOT NULL,
    message        TEXT,
    tested_at      TEXT NOT NULL
);
