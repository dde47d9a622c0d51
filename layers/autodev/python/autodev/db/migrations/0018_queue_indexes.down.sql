ALTER TABLE autonomous_tasks
    ALTER COLUMN max_turns TYPE integer,
    ALTER COLUMN timeout_ms TYPE integer,
    ALTER COLUMN max_attempts TYPE integer,
    ALTER COLUMN budget_usd TYPE numeric(12, 4),
    ALTER COLUMN attempts TYPE integer,
    ALTER COLUMN turns TYPE integer,
    ADD CONSTRAINT autonomous_tasks_max_turns_check CHECK (max_turns > 0),
    ADD CONSTRAINT autonomous_tasks_budget_usd_check CHECK (budget_usd > 0),
    ADD CONSTRAINT autonomous_tasks_timeout_ms_check CHECK (timeout_ms > 0),
    ADD CONSTRAINT autonomous_tasks_max_attempts_check CHECK (max_attempts > 0),
    ADD CONSTRAINT autonomous_tasks_attempts_check CHECK (attempts >= 0),
    ADD CONSTRAINT autonomous_tasks_turns_check CHECK (turns >= 0);
DROP DOMAIN task_positive_int;
DROP DOMAIN task_count;
DROP DOMAIN task_positive_usd;
DROP INDEX IF EXISTS autonomous_tasks_running_idx;
CREATE INDEX IF NOT EXISTS autonomous_tasks_lease_idx ON autonomous_tasks (lease_expires_at)
    WHERE status = 'running';
DROP INDEX IF EXISTS autonomous_tasks_claim_idx;
ALTER TABLE autonomous_tasks ADD COLUMN priority_rank smallint GENERATED ALWAYS AS (
    CASE priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END)
    STORED;
DROP FUNCTION task_priority_rank(text);
CREATE INDEX autonomous_tasks_claim_idx ON autonomous_tasks (priority_rank, created_at)
    WHERE status = 'queued';
