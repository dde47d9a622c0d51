-- The claim index carries available_at, so that the claim's "ready now" test is read from the
-- index and the planner walks it in claim order, stopping at the first ready task. Without it,
-- whenever the statistics say few tasks are queued (a new table, or a burst after a quiet spell
-- before autovacuum analyses it again), the planner preferred fetching every queued task and
-- sorting them: every claim then cost time in proportion to the backlog.
--
-- The claim order's priority rank is computed in the index rather than stored in each row: a
-- stored generated column had its expression read and prepared again for every UPDATE
-- statement, although no update changes a task's priority (about a tenth of the server's time
-- for a claim and a completion). The index computes it once, when a task is queued; the claim
-- orders by the same function (inlined by the planner, so the index order serves it).
CREATE FUNCTION task_priority_rank(priority text) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END;
DROP INDEX IF EXISTS autonomous_tasks_claim_idx;
ALTER TABLE autonomous_tasks DROP COLUMN priority_rank;
CREATE INDEX autonomous_tasks_claim_idx
    ON autonomous_tasks (task_priority_rank(priority), created_at, available_at)
    WHERE status = 'queued';

-- Running tasks by lease owner, in place of the index on their lease's expiry: a lease renewal
-- (every running task, every few seconds) then changes no indexed column and is a HOT update,
-- with no new index entries. The rescuer and the monitors filter the running tasks (one per
-- live worker) on lease_expires_at; the scaler finds a worker's running task by its owner.
DROP INDEX IF EXISTS autonomous_tasks_lease_idx;
CREATE INDEX autonomous_tasks_running_idx ON autonomous_tasks (lease_owner)
    WHERE status = 'running';

-- Postgres checks every CHECK constraint of a row on every UPDATE, whichever columns change,
-- and prepares each constraint's expression again for every statement: with nine of them, that
-- was a third of the server's time for a claim and a completion. The limits on columns a
-- task's updates never set (its budget, turns, time and attempts allowed) and on its counters
-- move to domains, which are checked only when a column of theirs is assigned (every INSERT;
-- an UPDATE that sets it) and are prepared once per connection. Nothing is checked less: a row
-- can only take a bad value through an assignment. Each domain is created without its check,
-- so that changing a column's type is a relabel (no table rewrite), and gets it afterwards
-- (ADD CONSTRAINT scans the table once).
CREATE DOMAIN task_positive_int AS integer;
CREATE DOMAIN task_count AS integer;
CREATE DOMAIN task_positive_usd AS numeric(12, 4);
ALTER TABLE autonomous_tasks
    DROP CONSTRAINT autonomous_tasks_max_turns_check,
    DROP CONSTRAINT autonomous_tasks_budget_usd_check,
    DROP CONSTRAINT autonomous_tasks_timeout_ms_check,
    DROP CONSTRAINT autonomous_tasks_max_attempts_check,
    DROP CONSTRAINT autonomous_tasks_attempts_check,
    DROP CONSTRAINT autonomous_tasks_turns_check,
    ALTER COLUMN max_turns TYPE task_positive_int,
    ALTER COLUMN timeout_ms TYPE task_positive_int,
    ALTER COLUMN max_attempts TYPE task_positive_int,
    ALTER COLUMN budget_usd TYPE task_positive_usd,
    ALTER COLUMN attempts TYPE task_count,
    ALTER COLUMN turns TYPE task_count;
ALTER DOMAIN task_positive_int ADD CONSTRAINT task_positive_int_check CHECK (VALUE > 0);
ALTER DOMAIN task_count ADD CONSTRAINT task_count_check CHECK (VALUE >= 0);
ALTER DOMAIN task_positive_usd ADD CONSTRAINT task_positive_usd_check CHECK (VALUE > 0);
