-- Refused requests (PATCH bodies an identity provider sent that Iris could not apply), newest
-- kept per tenant, for `iris tenant rejected` and the provisioning log.
CREATE TABLE rejected_requests (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    method        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    status        INTEGER NOT NULL,
    scim_type     TEXT,
    detail        TEXT NOT NULL,
    body          TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
