"""Outcomes and heartbeats: what Step Functions has yet to hear about the queue's tasks.

A finished task with a task token is an outcome to send until ``outcome_sent_at`` is set
(``autodev.orchestrator.outcomes`` sends them; ``outcome_refused`` keeps the error of a token
nobody waited for any more); a queued task with a task token needs a
heartbeat now and then, so that its step does not time out while it waits for a worker.
"""

from __future__ import annotations

from autodev.db import connection
from autodev.orchestrator.queue.models import PendingOutcome


def pending_outcomes(
    older_than_seconds: float = 0, limit: int = 100, *, task_id: str | None = None
) -> list[PendingOutcome]:
    """Finished tasks with a task token whose outcome was not sent (the outbox)."""
    with connection() as conn:
        rows = conn.execute(
            """SELECT id, status, task_token, result, last_error, error_code
               FROM autonomous_tasks
               WHERE task_token IS NOT NULL AND outcome_sent_at IS NULL
                 AND status IN ('succeeded', 'failed', 'dead', 'cancelled')
                 AND finished_at <= now() - make_interval(secs => %s)
                 AND (%s::uuid IS NULL OR id = %s::uuid)
               ORDER BY finished_at LIMIT %s""",
            (older_than_seconds, task_id, task_id, limit),
        ).fetchall()
    return [
        PendingOutcome(
            str(row["id"]),
            str(row["status"]),
            str(row["task_token"]),
            row["result"],
            None if row["last_error"] is None else str(row["last_error"]),
            None if row["error_code"] is None else str(row["error_code"]),
        )
        for row in rows
    ]


def mark_outcome_sent(task_id: str, *, refused: str | None = None) -> bool:
    """Record that the outcome left the outbox: Step Functions took it, or (``refused``: its
    error, e.g. InvalidToken) nobody waited for it any more. False when already recorded."""
    with connection() as conn:
        cursor = conn.execute(
            """UPDATE autonomous_tasks SET outcome_sent_at = now(), outcome_refused = %s
               WHERE id = %s AND outcome_sent_at IS NULL""",
            (refused, task_id),
        )
        return cursor.rowcount == 1


def queued_needing_heartbeat(older_than_seconds: float, limit: int = 200) -> list[tuple[str, str]]:
    """Queued tasks with a task token that have not been heartbeated for a while.

    Returns (task id, task token) pairs, and stamps them, so that two rescuers running at
    once do not both send heartbeats for the same task.
    """
    with connection() as conn:
        rows = conn.execute(
            """UPDATE autonomous_tasks SET queued_heartbeat_at = now()
               WHERE id IN (
                   SELECT id FROM autonomous_tasks
                   WHERE status = 'queued' AND task_token IS NOT NULL
                     AND coalesce(queued_heartbeat_at, created_at)
                         <= now() - make_interval(secs => %s)
                   ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED)
               RETURNING id::text, task_token""",
            (older_than_seconds, limit),
        ).fetchall()
    return [(str(row["id"]), str(row["task_token"])) for row in rows]
