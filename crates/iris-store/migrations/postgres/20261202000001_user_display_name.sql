-- A user's displayName as sent, for the `display` of the group memberships that name it
-- (display_name_lower is what filters compare). Kept in lockstep with migrations/sqlite.
ALTER TABLE users ADD COLUMN display_name TEXT;
UPDATE users SET display_name = (doc::jsonb) ->> 'displayName';
