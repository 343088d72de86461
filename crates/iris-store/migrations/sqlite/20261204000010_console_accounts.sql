-- The admin console's operator accounts and their sign-in sessions. Accounts belong to no tenant.
-- `name` is stored lowercased (normalised in Rust), so names are unique regardless of case on
-- both engines. `password_hash` is an argon2id PHC string. A failed sign-in counts in
-- `failed_sign_ins`; past a threshold the account is locked until `locked_until`.
CREATE TABLE console_accounts (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    created         TEXT NOT NULL,
    failed_sign_ins INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    last_sign_in    TEXT
) STRICT;

-- A session is found by the SHA-256 (hex) of the secret in its cookie: the database never holds
-- anything that opens the console. Stored in the database so every `iris serve` process sharing
-- it honours every session, and a sign-out takes effect everywhere at once.
CREATE TABLE console_sessions (
    id_hash    TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES console_accounts (id) ON DELETE CASCADE,
    created    TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;

CREATE INDEX console_sessions_account ON console_sessions (account_id);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
