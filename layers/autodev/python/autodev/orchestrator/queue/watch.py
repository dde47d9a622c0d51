"""What monitoring watches in the queue: expired leases, outcomes in a window, dead tasks and
budget stops. Read-only, each served by an index (leases, finished time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from autodev.db import in_transaction
from autodev.orchestrator.queue.models import ERROR_BUDGET, ERROR_WORKFLOW_BUDGET


@dataclass(frozen=True)
class EndedTask:
    """A task that ended in the window, for an alert to name."""

    id: str
    workflow_id: str | None
    step_name: str | None
    task_type: str
    status: str
    error_code: str | None
    last_error: str | None
    finished_at: datetime


def expired_lease_count(
    grace_seconds: float, *, conn: psycopg.Connection[Any] | None = None
) -> int:
    """Running tasks whose lease ran out more than ``grace_seconds`` ago: their worker stopped
    and the rescuer has not returned them yet."""
    with in_transaction(conn) as tx:
        row = tx.execute(
            """SELECT count(*) AS n FROM autonomous_tasks
               WHERE status = 'running'
                 AND lease_expires_at < now() - make_interval(secs => %s)""",
            (grace_seconds,),
        ).fetchone()
    return int(row["n"]) if row is not None else 0


def finished_counts(
    since: datetime, *, conn: psycopg.Connection[Any] | None = None
) -> dict[str, int]:
    """Tasks that finished since ``since``, by final status."""
    with in_transaction(conn) as tx:
        rows = tx.execute(
            """SELECT status, count(*) AS n FROM autonomous_tasks
               WHERE finished_at >= %s GROUP BY status""",
            (since,),
        ).fetchall()
    return {str(row["status"]): int(row["n"]) for row in rows}


_COLUMNS = """id::text, workflow_id::text, step_name, task_type, status, error_code,
    last_error, finished_at"""
_DEAD = f"""SELECT {_COLUMNS} FROM autonomous_tasks
    WHERE finished_at >= %(since)s AND status = 'dead'
    ORDER BY finished_at DESC LIMIT %(limit)s"""  # noqa: S608 - constant
_BUDGET_STOPS = f"""SELECT {_COLUMNS} FROM autonomous_tasks
    WHERE finished_at >= %(since)s AND error_code IN ('{ERROR_BUDGET}', '{ERROR_WORKFLOW_BUDGET}')
    ORDER BY finished_at DESC LIMIT %(limit)s"""  # noqa: S608 - constant


def dead_since(
    since: datetime, limit: int = 20, *, conn: psycopg.Connection[Any] | None = None
) -> list[EndedTask]:
    """Tasks that died (every attempt failed) since ``since``, newest first."""
    with in_transaction(conn) as tx:
        rows = tx.execute(_DEAD, {"since": since, "limit": limit}).fetchall()
    return [EndedTask(**row) for row in rows]


def budget_stops_since(
    since: datetime, limit: int = 20, *, conn: psycopg.Connection[Any] | None = None
) -> list[EndedTask]:
    """Tasks stopped by their own or their workflow's budget since ``since``, newest first."""
    with in_transaction(conn) as tx:
        rows = tx.execute(_BUDGET_STOPS, {"since": since, "limit": limit}).fetchall()
    return [EndedTask(**row) for row in rows]
