-- The claim index carries available_at, so that the claim's "ready now" test is read from the
-- index and the planner walks it in claim order, stopping at the first ready task. Without it,
-- whenever the statistics say few tasks are queued (a new table, or a burst after a quiet spell
-- before autovacuum analyses it again), the planner preferred fetching every queued task and
-- sorting them: every claim then cost time in proportion to the backlog.
DROP INDEX IF EXISTS autonomous_tasks_claim_idx;
CREATE INDEX autonomous_tasks_claim_idx
    ON autonomous_tasks (priority_rank, created_at, available_at)
    WHERE status = 'queued';

-- Running tasks by lease owner, in place of the index on their lease's expiry: a lease renewal
-- (every running task, every few seconds) then changes no indexed column and is a HOT update,
-- with no new index entries. The rescuer and the monitors filter the running tasks (one per
-- live worker) on lease_expires_at; the scaler finds a worker's running task by its owner.
DROP INDEX IF EXISTS autonomous_tasks_lease_idx;
CREATE INDEX autonomous_tasks_running_idx ON autonomous_tasks (lease_owner)
    WHERE status = 'running';
