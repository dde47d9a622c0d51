"""The worker instances that are running, in ``orchestrator_workers`` (for the CLI's view).

A worker registers when it starts, says what it is doing as it claims and finishes tasks,
and marks itself stopped when it exits. A worker killed outright cannot say so; its row goes
stale, and a row not seen for a while counts as gone. The row also says how to find the
worker (host and pid, or its ECS task), so the rescuer can ask whether a worker whose lease
lapsed is still alive (see ``launchers.worker_alive``).

Every read and write here is one statement: its own transaction, sent and committed in one
round trip (autocommit) rather than three.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from autodev.db import connection, in_transaction
from autodev.observability import child_logger

log = child_logger(__name__)

# A worker updates its row at least this often while it lives (every claim attempt).
STALE_AFTER_SECONDS = 120


# Set by ECS in every container of a task: the task metadata endpoint (version 4).
ECS_METADATA_ENV = "ECS_CONTAINER_METADATA_URI_V4"


@dataclass(frozen=True)
class WorkerRecord:
    """Where a worker runs, as it registered: enough for its launcher to tell if it lives."""

    id: str
    launcher: str
    host: str
    pid: int | None
    instance: str | None
    started_at: datetime
    status: str
    current_task_id: str | None


def ecs_task_arn() -> str | None:
    """This container's ECS task ARN, from the task metadata endpoint; None outside ECS."""
    base = os.environ.get(ECS_METADATA_ENV)
    if not base:
        return None
    # Only in ECS: urllib's HTTP client is not part of a local worker's start-up.
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base}/task", timeout=2) as response:  # noqa: S310 - ECS's
            arn = json.loads(response.read()).get("TaskARN")
    except (OSError, ValueError) as error:
        log.warning("the ECS task metadata did not answer: %s", error)
        return None
    return str(arn) if arn else None


def register(worker_id: str, launcher: str, instance: str | None = None) -> None:
    with connection(autocommit=True) as conn:
        conn.execute(
            """INSERT INTO orchestrator_workers (id, launcher, host, pid, instance)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (id) DO UPDATE SET status = 'idle', last_seen_at = now(),
                   stopped_at = NULL, exit_reason = NULL, instance = EXCLUDED.instance""",
            (worker_id, launcher, socket.gethostname(), os.getpid(), instance),
        )


def lookup(worker_id: str) -> WorkerRecord | None:
    """The worker's registration, or None when it never registered (or is unknown)."""
    with connection(autocommit=True) as conn:
        row = conn.execute(
            """SELECT id, launcher, host, pid, instance, started_at, status,
                      current_task_id::text
               FROM orchestrator_workers WHERE id = %s""",
            (worker_id,),
        ).fetchone()
    if row is None:
        return None
    return WorkerRecord(
        id=str(row["id"]),
        launcher=str(row["launcher"]),
        host=str(row["host"]),
        pid=None if row["pid"] is None else int(row["pid"]),
        instance=None if row["instance"] is None else str(row["instance"]),
        started_at=row["started_at"],
        status=str(row["status"]),
        current_task_id=row["current_task_id"],
    )


def seen(worker_id: str, task_id: str | None = None) -> None:
    with connection(autocommit=True) as conn:
        conn.execute(
            """UPDATE orchestrator_workers SET last_seen_at = now(),
                   status = CASE WHEN %s::uuid IS NULL THEN 'idle' ELSE 'busy' END,
                   current_task_id = %s::uuid
               WHERE id = %s""",
            (task_id, task_id, worker_id),
        )


def task_done(worker_id: str, ok: bool) -> None:
    with connection(autocommit=True) as conn:
        conn.execute(
            """UPDATE orchestrator_workers SET last_seen_at = now(), status = 'idle',
                   current_task_id = NULL,
                   tasks_done = tasks_done + %s, tasks_failed = tasks_failed + %s
               WHERE id = %s""",
            (1 if ok else 0, 0 if ok else 1, worker_id),
        )


def stopped(worker_id: str, reason: str) -> None:
    with connection(autocommit=True) as conn:
        conn.execute(
            """UPDATE orchestrator_workers SET status = 'stopped', stopped_at = now(),
                   current_task_id = NULL, exit_reason = %s WHERE id = %s""",
            (reason, worker_id),
        )


# A worker on a task: it says so (status busy) and shows life, by its row or by its task's
# (a lease renewal or the task's end updates the task), or it holds a task's live lease
# between its claim and saying so. A killed worker stops counting once both go quiet.
_BUSY = """SELECT count(*) AS n FROM orchestrator_workers w
    LEFT JOIN autonomous_tasks t ON t.id = w.current_task_id
    WHERE w.launcher = %(launcher)s AND w.status <> 'stopped'
      AND ((w.status = 'busy'
            AND (w.last_seen_at > now() - make_interval(secs => %(stale)s)
                 OR t.updated_at > now() - make_interval(secs => %(stale)s)))
           OR EXISTS (SELECT 1 FROM autonomous_tasks r
                      WHERE r.status = 'running' AND r.lease_owner = w.id
                        AND r.lease_expires_at > now()))"""


def busy_workers(launcher: str, *, conn: Any | None = None) -> int:
    """How many of ``launcher``'s workers are on a task, from what they say in their rows:
    such a worker is not capacity for queued tasks however long it stays on it."""
    with in_transaction(conn, autocommit=True) as tx:
        row = tx.execute(_BUSY, {"launcher": launcher, "stale": STALE_AFTER_SECONDS}).fetchone()
    return 0 if row is None else int(row["n"])


def live_workers() -> list[dict[str, Any]]:
    """Workers not stopped and seen recently, with their current task."""
    with connection(autocommit=True) as conn:
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
