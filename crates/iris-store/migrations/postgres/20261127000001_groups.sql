-- Groups and their memberships. Kept in lockstep with migrations/sqlite: the same tables and
-- indexes, with PostgreSQL types.
--
-- Members live in their own table, never in the group's document: adding or removing members
-- touches only the rows that change, however large the group is, and membership filters
-- (`members[value eq "…"]`, a user's `groups`) are index lookups.
CREATE TABLE groups (
    tenant_id          TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                 TEXT NOT NULL,
    -- displayName as sent (what a user's `groups[].display` shows) and lowercased in Rust (what
    -- uniqueness and filters compare).
    display_name       TEXT NOT NULL,
    display_name_lower TEXT NOT NULL,
    external_id        TEXT,
    created            TEXT NOT NULL,
    last_modified      TEXT NOT NULL,
    version            BIGINT NOT NULL,
    doc                TEXT NOT NULL,
    search_doc         JSONB NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX groups_display_name ON groups (tenant_id, display_name_lower);
CREATE INDEX groups_external_id ON groups (tenant_id, external_id);

-- One row per (group, member). A member is a user or a group of the same tenant; which one is
-- recorded when the row is written (ids are UUIDs, so no id names both). No foreign key on
-- member_id, since it points into one of two tables: deleting a user or a group deletes its rows
-- here in the same transaction.
CREATE TABLE group_members (
    tenant_id   TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    member_type TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
    PRIMARY KEY (tenant_id, group_id, member_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE
);
-- A member's groups (a user's `groups` attribute) and the cascade when a member is deleted.
CREATE INDEX group_members_member ON group_members (tenant_id, member_id);
