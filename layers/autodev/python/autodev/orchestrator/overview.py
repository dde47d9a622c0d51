"""What the orchestrator is doing now: workers and their tasks, the queue, recent failures."""

from __future__ import annotations

from typing import Any

from autodev.db import connection
from autodev.orchestrator import queue, registry


def recent_failures(limit: int = 10) -> list[dict[str, Any]]:
    with connection() as conn:
        rows = conn.execute(
            """SELECT id::text, workflow_id::text, step_name, task_type, status, error_code,
                      last_error, attempts, finished_at
               FROM autonomous_tasks WHERE status IN ('failed', 'dead')
               ORDER BY finished_at DESC NULLS LAST LIMIT %s""",
            (limit,),
        ).fetchall()
    return [dict(row) for row in rows]


def overview(failures: int = 10) -> dict[str, Any]:
    return {
        "workers": registry.live_workers(),
        "queue": queue.queue_depth().model_dump(),
        "recent_failures": recent_failures(failures),
    }
