-- The provisioning engine's state (iris-sync), beside Iris's own tables in the same database.
-- Recorded in its own migrations table (_iris_sync_migrations). Kept in lockstep with
-- migrations/sqlite (PostgreSQL types).
CREATE TABLE sync_jobs (
    name              TEXT PRIMARY KEY,
    definition        TEXT NOT NULL,
    status            TEXT NOT NULL,
    quarantine_reason TEXT,
    quarantine_detail TEXT,
    quarantined_at    TEXT,
    watermark         TEXT,
    last_cycle_id     TEXT,
    last_cycle_kind   TEXT,
    last_started      TEXT,
    last_finished     TEXT,
    last_summary      TEXT,
    created           TEXT NOT NULL
);

-- One row per object the job manages in the target: what it last wrote there.
CREATE TABLE sync_objects (
    job         TEXT NOT NULL REFERENCES sync_jobs (name) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    source_hash TEXT NOT NULL,
    modified    TEXT,
    mapped      TEXT NOT NULL,
    members     TEXT,
    active      BIGINT NOT NULL,
    updated     TEXT NOT NULL,
    PRIMARY KEY (job, kind, source_id)
);

-- Objects whose last attempt failed; retried every cycle until they succeed.
CREATE TABLE sync_escrows (
    job          TEXT NOT NULL REFERENCES sync_jobs (name) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    attempts     BIGINT NOT NULL,
    first_failed TEXT NOT NULL,
    last_failed  TEXT NOT NULL,
    error_code   TEXT NOT NULL,
    error        TEXT NOT NULL,
    PRIMARY KEY (job, kind, source_id)
);

-- The provisioning log, one CSV line per record (iris_scim::provisioning_log layout).
CREATE TABLE sync_log (
    seq       BIGSERIAL PRIMARY KEY,
    job       TEXT NOT NULL REFERENCES sync_jobs (name) ON DELETE CASCADE,
    cycle_id  TEXT NOT NULL,
    status    TEXT NOT NULL,
    record    TEXT NOT NULL
);
CREATE INDEX sync_log_job ON sync_log (job, seq);
