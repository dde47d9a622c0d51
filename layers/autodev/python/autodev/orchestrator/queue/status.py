"""Reading the queue: one task's status, and how deep the queue is."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from autodev.db import connection, in_transaction
from autodev.errors import NotFound
from autodev.orchestrator.queue.models import PRIORITIES, QueueDepth, TaskStatus

_STATUS_COLUMNS = """id::text, workflow_id::text, step_name, task_type, priority, status,
    attempts, max_attempts, last_error, error_code, result, model, model_provider, turns,
    input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_usd,
    budget_usd, max_turns, created_at, started_at, finished_at, lease_owner,
    lease_expires_at, available_at, outcome_sent_at, outcome_refused"""


def task_row(task_id: str, columns: str) -> dict[str, Any]:
    """``columns`` (a constant list, never the task token) of one task; NotFound when the id
    is not a task's."""
    try:
        uuid.UUID(task_id)
    except ValueError:
        raise NotFound(f"no task {task_id!r}") from None
    with connection() as conn:
        row = conn.execute(
            f"SELECT {columns} FROM autonomous_tasks WHERE id = %s",  # noqa: S608 - constant
            (task_id,),
        ).fetchone()
    if row is None:
        raise NotFound(f"no task {task_id!r}")
    return dict(row)


def get_task_status(task_id: str) -> TaskStatus:
    """The task's state, attempts, usage and result. The task token is never included."""
    return TaskStatus.model_validate(task_row(task_id, _STATUS_COLUMNS))


def workflow_tasks(workflow_id: str) -> list[TaskStatus]:
    """The tasks of a workflow's steps, oldest first."""
    with connection() as conn:
        rows = conn.execute(
            f"SELECT {_STATUS_COLUMNS} FROM autonomous_tasks"  # noqa: S608 - constant
            " WHERE workflow_id = %s ORDER BY created_at",
            (workflow_id,),
        ).fetchall()
    return [TaskStatus.model_validate(row) for row in rows]


# Each half reads its own partial index (queued tasks: the claim index; running: the running
# tasks by lease owner).
_DEPTH = """SELECT priority, 'queued' AS status, count(*) AS n,
                  extract(epoch FROM now() - min(created_at)) AS oldest
           FROM autonomous_tasks WHERE status = 'queued' GROUP BY priority
           UNION ALL
           SELECT priority, 'running', count(*), NULL
           FROM autonomous_tasks WHERE status = 'running' GROUP BY priority"""


def queue_depth(*, conn: psycopg.Connection[Any] | None = None) -> QueueDepth:
    """Queued tasks by priority, running count, and the age of the oldest queued task."""
    with in_transaction(conn) as tx:
        rows = tx.execute(_DEPTH).fetchall()
    queued = dict.fromkeys(PRIORITIES, 0)
    running = 0
    oldest: float | None = None
    for row in rows:
        count = int(row["n"])
        if row["status"] == "queued":
            queued[str(row["priority"])] = count
            age = float(row["oldest"])
            oldest = age if oldest is None else max(oldest, age)
        else:
            running += count
    return QueueDepth(queued=queued, running=running, oldest_queued_seconds=oldest)
