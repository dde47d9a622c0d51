UPDATE orchestrator_workers SET status = 'idle' WHERE status = 'finishing';
ALTER TABLE orchestrator_workers DROP CONSTRAINT IF EXISTS orchestrator_workers_status_check;
ALTER TABLE orchestrator_workers ADD CONSTRAINT orchestrator_workers_status_check
    CHECK (status IN ('idle', 'busy', 'stopped'));
ALTER TABLE autonomous_tasks RESET (fillfactor);
DROP INDEX IF EXISTS autonomous_tasks_claim_idx;
CREATE INDEX IF NOT EXISTS autonomous_tasks_queue_idx
    ON autonomous_tasks (status, priority_rank, created_at);
