"""Rows in ``monitoring_metrics`` for what workers and tasks do.

Names: ``orchestrator.task.started`` / ``.finished`` (value: seconds, dimensions: task,
worker, attempt, outcome), ``orchestrator.task.tool_use`` (per tool call),
``orchestrator.task.tokens`` and ``orchestrator.task.cost_usd`` (per model response, and per
task at the end), ``orchestrator.task.files_changed``, ``orchestrator.scaler.launched``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from autodev.db import in_transaction

Metric = tuple[str, float, str, dict[str, Any]]

_INSERT = """INSERT INTO monitoring_metrics (metric_name, metric_value, unit, dimensions)
             VALUES (%s, %s, %s, %s)"""


def record_many(metrics: Iterable[Metric], *, conn: psycopg.Connection[Any] | None = None) -> None:
    rows = [(name, float(value), unit, Jsonb(dims)) for name, value, unit, dims in metrics]
    if not rows:
        return
    # One row is one statement: its own transaction, in one round trip (autocommit).
    with in_transaction(conn, autocommit=len(rows) == 1) as tx, tx.cursor() as cursor:
        cursor.executemany(_INSERT, rows)


def record(
    name: str,
    value: float,
    unit: str = "Count",
    dimensions: dict[str, Any] | None = None,
    *,
    conn: psycopg.Connection[Any] | None = None,
) -> None:
    record_many([(name, value, unit, dimensions or {})], conn=conn)
