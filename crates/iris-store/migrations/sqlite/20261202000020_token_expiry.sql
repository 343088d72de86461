-- A tenant token may expire: `expires_at` (RFC 3339, the stored fixed-width format, so string
-- comparison compares instants) or NULL for a token that never does. Checked on every request.
ALTER TABLE tokens ADD COLUMN expires_at TEXT;
