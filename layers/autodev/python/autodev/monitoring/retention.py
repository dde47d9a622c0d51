"""Metric retention: raw ``monitoring_metrics`` rows older than ``METRICS_RETENTION_DAYS`` are
rolled up into hourly figures (``monitoring_metrics_hourly``) and deleted; hourly figures older
than ``METRICS_HOURLY_RETENTION_DAYS`` are deleted.

An hourly figure is one metric, unit, hour and set of dimensions without the per-task ids
(``task_id``, ``worker``, ``attempt``, ``workflow_id``), so it stays small: the number of
samples, their total, least and greatest value. Rows move in batches, each batch in one
statement (delete and roll-up together), so a pass that stops half way loses and counts
nothing twice. Runs hourly (the retention function in AWS, the monitoring loop locally).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from autodev.config import Settings, get_settings
from autodev.db import connection

BATCH = 5000

_ROLL_UP = """
WITH moved AS (
    DELETE FROM monitoring_metrics
    WHERE id IN (SELECT id FROM monitoring_metrics WHERE recorded_at < %(cutoff)s
                 ORDER BY recorded_at LIMIT %(batch)s)
    RETURNING metric_name, unit,
              dimensions - 'task_id' - 'worker' - 'attempt' - 'workflow_id' AS dimensions,
              date_trunc('hour', recorded_at) AS hour, metric_value
), hourly AS (
    SELECT metric_name, unit, dimensions, hour, count(*) AS samples,
           sum(metric_value) AS total, min(metric_value) AS minimum,
           max(metric_value) AS maximum
    FROM moved GROUP BY metric_name, unit, dimensions, hour
), merged AS (
    INSERT INTO monitoring_metrics_hourly AS h
        (metric_name, unit, dimensions, hour, samples, total, minimum, maximum)
    SELECT metric_name, unit, dimensions, hour, samples, total, minimum, maximum FROM hourly
    ON CONFLICT (metric_name, unit, dimensions, hour) DO UPDATE SET
        samples = h.samples + EXCLUDED.samples,
        total = h.total + EXCLUDED.total,
        minimum = least(h.minimum, EXCLUDED.minimum),
        maximum = greatest(h.maximum, EXCLUDED.maximum)
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM merged) AS hours
"""


@dataclass(frozen=True)
class RetentionReport:
    rolled_up: int  # raw rows folded into hourly figures and deleted
    hourly_pruned: int  # hourly figures past their own retention, deleted

    def to_json(self) -> dict[str, int]:
        return {"rolled_up": self.rolled_up, "hourly_pruned": self.hourly_pruned}


def apply_retention(
    *, now: datetime | None = None, settings: Settings | None = None, batch: int = BATCH
) -> RetentionReport:
    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=settings.metrics_retention_days)
    rolled = 0
    while True:
        with connection() as conn:
            row = conn.execute(_ROLL_UP, {"cutoff": cutoff, "batch": batch}).fetchone()
        moved = int(row["moved"]) if row is not None else 0
        rolled += moved
        if moved < batch:
            break
    hourly_cutoff = now - timedelta(days=settings.metrics_hourly_retention_days)
    with connection() as conn:
        pruned = conn.execute(
            "DELETE FROM monitoring_metrics_hourly WHERE hour < %s", (hourly_cutoff,)
        ).rowcount
    return RetentionReport(rolled, pruned)
