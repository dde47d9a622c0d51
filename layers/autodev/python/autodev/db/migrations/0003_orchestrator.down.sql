DROP TABLE IF EXISTS orchestrator_workers;
DROP INDEX IF EXISTS autonomous_tasks_outcome_pending_idx;
ALTER TABLE autonomous_tasks
    DROP COLUMN IF EXISTS error_code,
    DROP COLUMN IF EXISTS outcome_sent_at,
    DROP COLUMN IF EXISTS turns,
    DROP COLUMN IF EXISTS model_provider;
