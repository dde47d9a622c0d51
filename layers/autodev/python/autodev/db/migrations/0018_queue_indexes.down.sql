DROP INDEX IF EXISTS autonomous_tasks_running_idx;
CREATE INDEX IF NOT EXISTS autonomous_tasks_lease_idx ON autonomous_tasks (lease_expires_at)
    WHERE status = 'running';
DROP INDEX IF EXISTS autonomous_tasks_claim_idx;
CREATE INDEX autonomous_tasks_claim_idx ON autonomous_tasks (priority_rank, created_at)
    WHERE status = 'queued';
