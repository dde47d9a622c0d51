DROP INDEX IF EXISTS autonomous_tasks_result_unpublished_idx;
ALTER TABLE autonomous_tasks DROP COLUMN IF EXISTS result_published_at;
DROP INDEX IF EXISTS monitoring_metrics_recorded_idx;
DROP TABLE IF EXISTS monitoring_metrics_hourly;
DROP INDEX IF EXISTS monitoring_alerts_resolution_pending_idx;
DROP INDEX IF EXISTS monitoring_alerts_one_open_idx;
ALTER TABLE monitoring_alerts
    DROP COLUMN IF EXISTS resolution_notified_at,
    DROP COLUMN IF EXISTS notified_count,
    DROP COLUMN IF EXISTS last_seen_at,
    DROP COLUMN IF EXISTS source;
