-- Provisioning cycles, recognised from each tenant's requests (iris-core provisioning::cycles).
-- Counts are added by every process under the tenant's row lock; counted_through is the newest
-- event whose change is already in the counts. Booleans are integers on both engines.
CREATE TABLE provisioning_cycles (
    tenant_id         TEXT NOT NULL,
    id                TEXT NOT NULL,
    kind              TEXT NOT NULL,
    started           TEXT NOT NULL,
    ended             TEXT NOT NULL,
    requests          BIGINT NOT NULL DEFAULT 0,
    probes            BIGINT NOT NULL DEFAULT 0,
    queries           BIGINT NOT NULL DEFAULT 0,
    failures          BIGINT NOT NULL DEFAULT 0,
    unauthorized      BIGINT NOT NULL DEFAULT 0,
    creates           BIGINT NOT NULL DEFAULT 0,
    updates           BIGINT NOT NULL DEFAULT 0,
    disables          BIGINT NOT NULL DEFAULT 0,
    enables           BIGINT NOT NULL DEFAULT 0,
    deletes           BIGINT NOT NULL DEFAULT 0,
    opened_with_probe BIGINT NOT NULL,
    users_at_start    BIGINT NOT NULL,
    counted_through   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
