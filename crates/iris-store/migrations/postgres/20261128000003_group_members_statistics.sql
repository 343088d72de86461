-- Memberships grow in bursts (Entra adds hundreds of members per PATCH). With the default
-- thresholds (10% of the table changed) the planner keeps estimating a freshly filled group as
-- tiny and scans its whole membership to remove a few members (BENCHMARKS.md, W4). Analyse
-- group_members after 1% of it (and at least 1,000 rows) changed.
ALTER TABLE group_members SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 1000);
