ALTER TABLE autonomous_tasks
    ALTER COLUMN status TYPE text,
    ALTER COLUMN priority TYPE text,
    ADD CONSTRAINT autonomous_tasks_status_check
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
    ADD CONSTRAINT autonomous_tasks_priority_check
        CHECK (priority IN ('critical', 'high', 'normal', 'low'));
DROP DOMAIN task_status;
DROP DOMAIN task_priority;
