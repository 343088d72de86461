-- OAuth 2.0 client credentials (RFC 6749 §4.4). A client belongs to one tenant and has one or
-- more secrets (several at once for rotation), stored only as SHA-256 hashes. The access tokens
-- clients obtain are rows of `tokens` with an expiry and the client and secret that obtained
-- them, so SCIM requests authenticate through the one token lookup; revoking a client or a
-- secret revokes its access tokens in the same transaction.
CREATE TABLE oauth_clients (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    label       TEXT,
    created     TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX oauth_clients_tenant ON oauth_clients (tenant_id);

CREATE TABLE oauth_client_secrets (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created     TEXT NOT NULL,
    last_used   TEXT,
    revoked_at  TEXT
);
CREATE INDEX oauth_client_secrets_client ON oauth_client_secrets (client_id);

ALTER TABLE tokens ADD COLUMN oauth_client_id TEXT;
ALTER TABLE tokens ADD COLUMN oauth_secret_id TEXT;
-- Revocation finds a client's (or a secret's) access tokens; the purge finds expired ones.
CREATE INDEX tokens_oauth_client ON tokens (oauth_client_id) WHERE oauth_client_id IS NOT NULL;
CREATE INDEX tokens_oauth_secret ON tokens (oauth_secret_id) WHERE oauth_secret_id IS NOT NULL;
CREATE INDEX tokens_oauth_expiry ON tokens (expires_at) WHERE oauth_client_id IS NOT NULL;
