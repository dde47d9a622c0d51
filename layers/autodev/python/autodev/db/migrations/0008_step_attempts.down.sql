ALTER TABLE orchestrator_workers DROP COLUMN IF EXISTS instance;
ALTER TABLE autonomous_tasks DROP COLUMN IF EXISTS claimed_at;
DROP INDEX IF EXISTS autonomous_tasks_step_key_idx;
ALTER TABLE autonomous_tasks DROP COLUMN IF EXISTS step_key;
