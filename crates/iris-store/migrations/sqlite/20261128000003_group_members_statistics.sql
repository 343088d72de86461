-- PostgreSQL tunes autovacuum for group_members here; SQLite has no autovacuum statistics (its
-- planner uses the indexes without them). Kept so both engines share one migration history.
SELECT 1;
