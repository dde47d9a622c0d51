"""The worker instances that are running, in ``orchestrator_workers`` (for the CLI's view).

A worker registers when it starts, says what it is doing as it claims and finishes tasks,
and marks itself stopped when it exits. A worker killed outright cannot say so; its row goes
stale, and a row not seen for a while counts as gone.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from autodev.db import connection

# A worker updates its row at least this often while it lives (every claim attempt).
STALE_AFTER_SECONDS = 120


def register(worker_id: str, launcher: str) -> None:
    with connection() as conn:
        conn.execute(
            """INSERT INTO orchestrator_workers (id, launcher, host, pid)
               VALUES (%s, %s, %s, %s)
               ON CONFLICT (id) DO UPDATE SET status = 'idle', last_seen_at = now(),
                   stopped_at = NULL, exit_reason = NULL""",
            (worker_id, launcher, socket.gethostname(), os.getpid()),
        )


def seen(worker_id: str, task_id: str | None = None) -> None:
    with connection() as conn:
        conn.execute(
            """UPDATE orchestrator_workers SET last_seen_at = now(),
                   status = CASE WHEN %s::uuid IS NULL THEN 'idle' ELSE 'busy' END,
                   current_task_id = %s::uuid
               WHERE id = %s""",
            (task_id, task_id, worker_id),
        )


def task_done(worker_id: str, ok: bool) -> None:
    with connection() as conn:
        conn.execute(
            """UPDATE orchestrator_workers SET last_seen_at = now(), status = 'idle',
                   current_task_id = NULL,
                   tasks_done = tasks_done + %s, tasks_failed = tasks_failed + %s
               WHERE id = %s""",
            (1 if ok else 0, 0 if ok else 1, worker_id),
        )


def stopped(worker_id: str, reason: str) -> None:
    with connection() as conn:
        conn.execute(
            """UPDATE orchestrator_workers SET status = 'stopped', stopped_at = now(),
                   current_task_id = NULL, exit_reason = %s WHERE id = %s""",
            (reason, worker_id),
        )


def live_workers() -> list[dict[str, Any]]:
    """Workers not stopped and seen recently, with their current task."""
    with connection() as conn:
        rows = conn.execute(
            """SELECT w.id, w.launcher, w.host, w.pid, w.status, w.current_task_id,
                      w.tasks_done, w.tasks_failed, w.started_at, w.last_seen_at,
                      t.step_name, t.task_type, t.workflow_id, t.started_at AS task_started_at
               FROM orchestrator_workers w
               LEFT JOIN autonomous_tasks t ON t.id = w.current_task_id
               WHERE w.status <> 'stopped'
                 AND w.last_seen_at > now() - make_interval(secs => %s)
               ORDER BY w.started_at""",
            (STALE_AFTER_SECONDS,),
        ).fetchall()
    return [dict(row) for row in rows]
