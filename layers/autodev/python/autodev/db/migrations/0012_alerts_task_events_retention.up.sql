-- Alerts, task result events, and metric retention.

-- An alert is one condition, named by its fingerprint; at most one is open per fingerprint,
-- so two evaluators (or a CloudWatch alarm arriving twice) cannot open it twice.
-- source: 'evaluator' (autodev's own checks; it resolves what it no longer sees) or
-- 'cloudwatch' (an alarm through SNS; resolved when the alarm says OK).
ALTER TABLE monitoring_alerts
    ADD COLUMN source       text NOT NULL DEFAULT 'evaluator'
                            CHECK (source IN ('evaluator', 'cloudwatch')),
    ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN notified_count integer NOT NULL DEFAULT 0 CHECK (notified_count >= 0),
    ADD COLUMN resolution_notified_at timestamptz;
CREATE UNIQUE INDEX monitoring_alerts_one_open_idx ON monitoring_alerts (fingerprint)
    WHERE status = 'open';
-- Resolved alerts whose resolution was not posted yet (Slack was down): posted on a later pass.
CREATE INDEX monitoring_alerts_resolution_pending_idx ON monitoring_alerts (resolved_at)
    WHERE status = 'resolved' AND resolution_notified_at IS NULL;

-- Metric rows older than METRICS_RETENTION_DAYS are rolled up into one row per metric, unit,
-- dimensions (without per-task ids) and hour, then deleted.
CREATE TABLE monitoring_metrics_hourly (
    metric_name     text NOT NULL,
    unit            text NOT NULL,
    dimensions      jsonb NOT NULL DEFAULT '{}'::jsonb,
    hour            timestamptz NOT NULL,
    samples         bigint NOT NULL CHECK (samples > 0),
    total           double precision NOT NULL,
    minimum         double precision NOT NULL,
    maximum         double precision NOT NULL,
    PRIMARY KEY (metric_name, unit, dimensions, hour)
);
CREATE INDEX monitoring_metrics_hourly_hour_idx ON monitoring_metrics_hourly (hour);
-- The roll-up reads the oldest rows first.
CREATE INDEX monitoring_metrics_recorded_idx ON monitoring_metrics (recorded_at);

-- A finished task's result is cached and queued to its callbacks and the event bus
-- (task:completed / task:failed) once; this marks it done. Tasks that finished before this
-- migration count as published, so no old results flood the bus.
ALTER TABLE autonomous_tasks ADD COLUMN result_published_at timestamptz;
UPDATE autonomous_tasks SET result_published_at = coalesce(finished_at, now())
    WHERE status IN ('succeeded', 'failed', 'dead', 'cancelled');
CREATE INDEX autonomous_tasks_result_unpublished_idx ON autonomous_tasks (finished_at)
    WHERE result_published_at IS NULL
      AND status IN ('succeeded', 'failed', 'dead', 'cancelled');
