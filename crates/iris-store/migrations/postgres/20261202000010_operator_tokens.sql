-- Operators' bearer tokens for the admin API. Kept in lockstep with migrations/sqlite. They belong
-- to no tenant, so they live apart from `tokens`: a tenant token can never be looked up as an
-- operator's, nor the other way round.
CREATE TABLE operator_tokens (
    id          TEXT PRIMARY KEY,
    label       TEXT,
    secret_hash TEXT NOT NULL,
    created     TEXT NOT NULL,
    last_used   TEXT,
    revoked_at  TEXT
);
