"""Metric retention on real Postgres: old rows become hourly figures, nothing is counted
twice, and hourly figures past their own retention go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from psycopg.types.json import Jsonb

from autodev.config import get_settings
from autodev.db import connection
from autodev.monitoring.retention import apply_retention

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _metric(name: str, value: float, at: datetime, **dimensions: object) -> None:
    with connection() as conn:
        conn.execute(
            "INSERT INTO monitoring_metrics (metric_name, metric_value, unit, dimensions,"
            " recorded_at) VALUES (%s, %s, 'Seconds', %s, %s)",
            (name, value, Jsonb(dimensions), at),
        )


def _hourly() -> list[dict[str, object]]:
    with connection() as conn:
        rows = conn.execute(
            "SELECT metric_name, dimensions, hour, samples, total, minimum, maximum"
            " FROM monitoring_metrics_hourly ORDER BY hour, dimensions::text"
        ).fetchall()
    return [dict(row) for row in rows]


def _raw_count() -> int:
    with connection() as conn:
        row = conn.execute("SELECT count(*) AS n FROM monitoring_metrics").fetchone()
    assert row is not None
    return int(row["n"])


def test_old_rows_roll_up_by_hour_without_per_task_ids(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRICS_RETENTION_DAYS", "30")
    monkeypatch.setenv("METRICS_HOURLY_RETENTION_DAYS", "365")
    get_settings.cache_clear()
    old = NOW - timedelta(days=40)
    hour = old.replace(minute=0)
    for minute, (value, task) in enumerate([(10.0, "t1"), (30.0, "t2"), (20.0, "t3")]):
        _metric(
            "orchestrator.task.finished",
            value,
            hour + timedelta(minutes=10 * minute),
            outcome="succeeded",
            task_id=task,
            worker="w-1",
            attempt=1,
        )
    _metric("orchestrator.task.finished", 99.0, hour, outcome="failed", task_id="t4")
    _metric("orchestrator.task.finished", 5.0, hour + timedelta(hours=1), outcome="succeeded")
    _metric("orchestrator.task.finished", 7.0, NOW - timedelta(days=1), outcome="succeeded")
    with connection() as conn:  # an hourly figure past its own retention
        conn.execute(
            "INSERT INTO monitoring_metrics_hourly (metric_name, unit, dimensions, hour, samples,"
            " total, minimum, maximum) VALUES ('x', 'Count', '{}', %s, 1, 1, 1, 1)",
            (NOW - timedelta(days=400),),
        )

    report = apply_retention(now=NOW, batch=2)  # small batches: several passes
    assert report.to_json() == {"rolled_up": 5, "hourly_pruned": 1}
    assert _raw_count() == 1  # yesterday's row stays
    assert _hourly() == [
        {
            "metric_name": "orchestrator.task.finished",
            "dimensions": {"outcome": "failed"},
            "hour": hour,
            "samples": 1,
            "total": 99.0,
            "minimum": 99.0,
            "maximum": 99.0,
        },
        {
            "metric_name": "orchestrator.task.finished",
            "dimensions": {"outcome": "succeeded"},
            "hour": hour,
            "samples": 3,
            "total": 60.0,
            "minimum": 10.0,
            "maximum": 30.0,
        },
        {
            "metric_name": "orchestrator.task.finished",
            "dimensions": {"outcome": "succeeded"},
            "hour": hour + timedelta(hours=1),
            "samples": 1,
            "total": 5.0,
            "minimum": 5.0,
            "maximum": 5.0,
        },
    ]

    # A late row for an hour already rolled up adds to its figure; a second pass adds nothing.
    _metric("orchestrator.task.finished", 40.0, hour + timedelta(minutes=5), outcome="succeeded")
    assert apply_retention(now=NOW).rolled_up == 1
    assert apply_retention(now=NOW).to_json() == {"rolled_up": 0, "hourly_pruned": 0}
    succeeded = _hourly()[1]
    assert (succeeded["samples"], succeeded["total"], succeeded["maximum"]) == (4, 100.0, 40.0)
