-- When the rescuer last told Step Functions that a still-queued task is alive. An agent step
-- has a HeartbeatSeconds limit from the moment it is enqueued, not from when a worker claims it.
ALTER TABLE autonomous_tasks ADD COLUMN queued_heartbeat_at timestamptz;
