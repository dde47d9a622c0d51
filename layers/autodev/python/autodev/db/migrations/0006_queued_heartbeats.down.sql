ALTER TABLE autonomous_tasks DROP COLUMN IF EXISTS queued_heartbeat_at;
