-- The side table is written and deleted only together with its user, in the same transaction
-- (insert, replace, delete and tenant deletion all name user_values explicitly). The foreign key
-- added nothing but a check per side row, and on a table without planner statistics (a fresh
-- bulk import) PostgreSQL's cached plan for that check scanned the tenant, making imports
-- quadratic. See BENCHMARKS.md.
ALTER TABLE user_values DROP CONSTRAINT IF EXISTS user_values_tenant_id_user_id_fkey;
