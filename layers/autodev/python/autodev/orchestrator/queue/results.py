"""Finished tasks whose result is yet to be published (cached for polling, delivered to the
task's callbacks and the event bus): another outbox, marked by ``result_published_at``.

``claim_unpublished`` locks the rows it returns (``FOR UPDATE SKIP LOCKED``) in the caller's
transaction, which publishes them and marks them with ``mark_published`` before it commits:
a worker and the rescuer's sweep never publish one task twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg


@dataclass(frozen=True)
class FinishedTask:
    id: str
    workflow_id: str | None
    step_name: str | None
    task_type: str
    status: str
    result: dict[str, Any] | None
    last_error: str | None
    error_code: str | None
    attempts: int
    cost_usd: float
    finished_at: datetime | None


_UNPUBLISHED = """
    SELECT id::text, workflow_id::text, step_name, task_type, status, result, last_error,
           error_code, attempts, cost_usd::float8 AS cost_usd, finished_at
    FROM autonomous_tasks
    WHERE result_published_at IS NULL
      AND status IN ('succeeded', 'failed', 'dead', 'cancelled')
      AND finished_at <= now() - make_interval(secs => %(older_than)s)
      AND (%(task_id)s::uuid IS NULL OR id = %(task_id)s::uuid)
    ORDER BY finished_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
"""


def claim_unpublished(
    conn: psycopg.Connection[Any],
    *,
    task_id: str | None = None,
    older_than_seconds: float = 0,
    limit: int = 50,
) -> list[FinishedTask]:
    """Finished, unpublished tasks (or just ``task_id``), locked until ``conn`` commits."""
    rows = conn.execute(
        _UNPUBLISHED, {"older_than": older_than_seconds, "task_id": task_id, "limit": limit}
    ).fetchall()
    return [FinishedTask(**row) for row in rows]


def mark_published(conn: psycopg.Connection[Any], task_id: str) -> None:
    conn.execute(
        "UPDATE autonomous_tasks SET result_published_at = now() WHERE id = %s", (task_id,)
    )
