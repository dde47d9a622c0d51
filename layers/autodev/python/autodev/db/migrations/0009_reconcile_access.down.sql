ALTER TABLE autonomous_tasks DROP COLUMN IF EXISTS outcome_refused;
DROP INDEX IF EXISTS workflows_reconcile_idx;
ALTER TABLE workflows DROP COLUMN IF EXISTS reconciled_at, DROP COLUMN IF EXISTS started_by;
