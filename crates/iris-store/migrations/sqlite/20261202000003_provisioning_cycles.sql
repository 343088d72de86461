-- Provisioning cycles, recognised from each tenant's requests (iris-core provisioning::cycles).
-- Counts are added by every process under the tenant's row lock; counted_through is the newest
-- event whose change is already in the counts. Booleans are integers on both engines.
CREATE TABLE provisioning_cycles (
    tenant_id         TEXT NOT NULL,
    id                TEXT NOT NULL,
    kind              TEXT NOT NULL,
    started           TEXT NOT NULL,
    ended             TEXT NOT NULL,
    requests          INTEGER NOT NULL DEFAULT 0,
    probes            INTEGER NOT NULL DEFAULT 0,
    queries           INTEGER NOT NULL DEFAULT 0,
    failures          INTEGER NOT NULL DEFAULT 0,
    unauthorized      INTEGER NOT NULL DEFAULT 0,
    creates           INTEGER NOT NULL DEFAULT 0,
    updates           INTEGER NOT NULL DEFAULT 0,
    disables          INTEGER NOT NULL DEFAULT 0,
    enables           INTEGER NOT NULL DEFAULT 0,
    deletes           INTEGER NOT NULL DEFAULT 0,
    opened_with_probe INTEGER NOT NULL,
    users_at_start    INTEGER NOT NULL,
    counted_through   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
