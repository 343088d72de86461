-- The provisioning log: one row per change a request made to one resource, or per refused
-- request, written in the same transaction as the change. Ids are UUIDv7, so the primary key
-- orders a tenant's events by time, and time bounds are id bounds. Refused requests recorded
-- so far (rejected_requests) move in. Kept in lockstep with the other engine's migration.
-- Only what is filtered on is a column of its own; the whole event is `record`, one JSON
-- document, so writing an event is one short row (seven values) in every change's transaction.
CREATE TABLE provisioning_events (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    identity_lower TEXT NOT NULL,
    operation      TEXT NOT NULL,
    status         INTEGER NOT NULL,
    record         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT, WITHOUT ROWID;
-- A resource's history by its id. (By name, the current resources are looked up first; only a
-- name no resource has any more is searched for among the events. One index keeps the cost of
-- writing an event, in every change's transaction, low.)
CREATE INDEX provisioning_events_resource ON provisioning_events (tenant_id, resource_id, id);

INSERT INTO provisioning_events (tenant_id, id, resource_id, identity_lower, operation, status, record)
SELECT tenant_id, id, resource_id, '',
    CASE method WHEN 'POST' THEN 'create' WHEN 'DELETE' THEN 'delete' ELSE 'update' END,
    status,
    json_object('id', id, 'at', received_at, 'request_id', '', 'client', 'other', 'method', method, 'operation', CASE method WHEN 'POST' THEN 'create' WHEN 'DELETE' THEN 'delete' ELSE 'update' END, 'resource_type', resource_type, 'resource_id', resource_id, 'identity', '', 'status', status, 'scim_type', scim_type, 'detail', detail, 'body', body)
FROM rejected_requests;
DROP TABLE rejected_requests;

-- How long a tenant's events are kept.
ALTER TABLE tenants ADD COLUMN log_retention_days INTEGER NOT NULL DEFAULT 30;
