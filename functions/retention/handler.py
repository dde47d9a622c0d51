"""Metric retention, every hour (EventBridge Scheduler): raw metric rows older than
``METRICS_RETENTION_DAYS`` become hourly figures; hourly figures older than
``METRICS_HOURLY_RETENTION_DAYS`` are deleted."""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.observability import ASYNC, child_logger, lambda_handler

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.DATABASE)

logger = child_logger("functions.retention")


@lambda_handler(correlation_id_path=ASYNC)
def handler(event: Any, context: Any) -> dict[str, int]:
    del event, context
    # Loaded by the first invocation, not at import: the database and settings
    # cost more to import than the whole cold start may (issue 18).
    from autodev.monitoring.retention import apply_retention

    report = apply_retention()
    logger.info("metric retention", extra=report.to_json())
    return report.to_json()
