-- Kept in lockstep with PostgreSQL: the side table is written and deleted only together with its
-- user, in the same transaction, so its foreign key is dropped (SQLite needs a table rebuild).
CREATE TABLE user_values_new (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    attribute   TEXT NOT NULL,
    type_lower  TEXT,
    is_primary  INTEGER NOT NULL,
    value_lower TEXT NOT NULL
) STRICT;
INSERT INTO user_values_new (tenant_id, user_id, attribute, type_lower, is_primary, value_lower)
    SELECT tenant_id, user_id, attribute, type_lower, is_primary, value_lower FROM user_values;
DROP TABLE user_values;
ALTER TABLE user_values_new RENAME TO user_values;
CREATE INDEX user_values_lookup ON user_values (tenant_id, attribute, value_lower);
CREATE INDEX user_values_owner ON user_values (tenant_id, user_id);
