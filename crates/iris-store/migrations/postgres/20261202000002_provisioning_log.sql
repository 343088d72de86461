-- The provisioning log: one row per change a request made to one resource, or per refused
-- request, written in the same transaction as the change. Ids are UUIDv7, so the primary key
-- orders a tenant's events by time, and time bounds are id bounds. Refused requests recorded
-- so far (rejected_requests) move in. Kept in lockstep with the other engine's migration.
CREATE TABLE provisioning_events (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    at             TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    client         TEXT NOT NULL,
    method         TEXT NOT NULL,
    operation      TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    identity       TEXT NOT NULL,
    identity_lower TEXT NOT NULL,
    status         INTEGER NOT NULL,
    scim_type      TEXT,
    detail         TEXT,
    changes        TEXT NOT NULL,
    members        TEXT,
    quirks         TEXT NOT NULL,
    body           TEXT,
    PRIMARY KEY (tenant_id, id)
);
-- A resource's history by its id. (By name, the current resources are looked up first; only a
-- name no resource has any more is searched for among the events. One index keeps the cost of
-- writing an event, in every change's transaction, low.)
CREATE INDEX provisioning_events_resource ON provisioning_events (tenant_id, resource_id, id);

INSERT INTO provisioning_events (tenant_id, id, at, request_id, client, method, operation,
    resource_type, resource_id, identity, identity_lower, status, scim_type, detail, changes,
    members, quirks, body)
SELECT tenant_id, id, received_at, '', 'other', method,
    CASE method WHEN 'POST' THEN 'create' WHEN 'DELETE' THEN 'delete' ELSE 'update' END,
    resource_type, resource_id, '', '', status, scim_type, detail, '[]', NULL, '[]', body
FROM rejected_requests;
DROP TABLE rejected_requests;

-- How long a tenant's events are kept.
ALTER TABLE tenants ADD COLUMN log_retention_days INTEGER NOT NULL DEFAULT 30;
