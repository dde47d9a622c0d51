-- Steps run once.
--
-- step_key names the attempt of a workflow step that a task runs: the Step Functions execution,
-- the state, the time the state was entered and the Map item (see autodev.workflows.steps).
-- A Lambda Retry of the same Task state entry carries the same key, so enqueue_task called
-- again for it finds the task it queued before instead of queueing a second one; a state
-- entered again (bug-fix's fix after a failed verification) has a new entered time, so it is
-- a new task. Tasks queued outside a workflow have no key.
ALTER TABLE autonomous_tasks ADD COLUMN step_key text;
CREATE UNIQUE INDEX autonomous_tasks_step_key_idx ON autonomous_tasks (step_key)
    WHERE step_key IS NOT NULL;

-- When the current attempt was claimed: its time limit (timeout_ms) runs from here, and the
-- rescuer leaves a live worker's expired lease alone until then (started_at is the first
-- attempt's start).
ALTER TABLE autonomous_tasks ADD COLUMN claimed_at timestamptz;

-- Which instance a worker is, for asking its launcher whether it still runs: the ECS task ARN
-- of a Fargate worker (local workers are found by host and pid).
ALTER TABLE orchestrator_workers ADD COLUMN instance text;
