-- Tenants, their tokens, and users. Kept in lockstep with migrations/sqlite: the same tables and
-- indexes, with PostgreSQL types. Case-insensitive uniqueness uses shadow columns lowercased in Rust.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created     TEXT NOT NULL,
    disabled_at TEXT
);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    label       TEXT,
    secret_hash TEXT NOT NULL,
    created     TEXT NOT NULL,
    last_used   TEXT,
    revoked_at  TEXT
);
CREATE INDEX tokens_tenant ON tokens (tenant_id);

CREATE TABLE users (
    tenant_id          TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                 TEXT NOT NULL,
    user_name_lower    TEXT NOT NULL,
    external_id        TEXT,
    display_name_lower TEXT,
    active             BOOLEAN,
    created            TEXT NOT NULL,
    last_modified      TEXT NOT NULL,
    version            BIGINT NOT NULL,
    -- The document as text, so its key order round-trips exactly; search_doc is what filters read.
    doc                TEXT NOT NULL,
    search_doc         JSONB NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_user_name ON users (tenant_id, user_name_lower);
CREATE INDEX users_external_id ON users (tenant_id, external_id);
CREATE INDEX users_display_name ON users (tenant_id, display_name_lower);

CREATE TABLE user_values (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    attribute   TEXT NOT NULL,
    type_lower  TEXT,
    is_primary  BOOLEAN NOT NULL,
    value_lower TEXT NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_values_lookup ON user_values (tenant_id, attribute, value_lower);
CREATE INDEX user_values_owner ON user_values (tenant_id, user_id);
