"""The ``scheduled_jobs`` table, which this package alone reads and writes."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from autodev.db import in_transaction
from autodev.errors import InvalidInput, NotFound

Conn = psycopg.Connection[Any]

_SHORT = re.compile(r"^[0-9a-f]{4,32}$")


@dataclass(frozen=True)
class ScheduledJob:
    """A schedule: its row, which names its EventBridge Scheduler schedule (``name``)."""

    id: str
    name: str
    template: str
    expression: str
    timezone: str
    input: dict[str, Any]
    enabled: bool
    schedule_arn: str | None
    created_by: str
    slack_channel: str | None
    runs: int
    last_run_at: datetime | None
    last_workflow_id: str | None
    created_at: datetime

    @property
    def short_id(self) -> str:
        return self.id.replace("-", "")[:8]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "template": self.template,
            "expression": self.expression,
            "timezone": self.timezone,
            "input": self.input,
            "enabled": self.enabled,
            "schedule_arn": self.schedule_arn,
            "created_by": self.created_by,
            "slack_channel": self.slack_channel,
            "runs": self.runs,
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
            "last_workflow_id": self.last_workflow_id,
            "created_at": self.created_at.isoformat(),
        }


_COLUMNS = """id::text, name, template, schedule_expression AS expression, timezone, input,
    enabled, schedule_arn, created_by, slack_channel, runs, last_run_at,
    last_workflow_id::text, created_at"""


def _job(row: Any) -> ScheduledJob:
    return ScheduledJob(**row)


def new_id() -> tuple[str, str]:
    """A new job id and the name it goes by (``<template>-<8 hex>`` once prefixed)."""
    job_id = uuid.uuid4()
    return str(job_id), job_id.hex[:8]


def insert(
    conn: Conn,
    *,
    job_id: str,
    name: str,
    template: str,
    expression: str,
    timezone: str,
    workflow_input: dict[str, Any],
    created_by: str,
    slack_channel: str | None,
) -> ScheduledJob:
    row = conn.execute(
        f"""INSERT INTO scheduled_jobs (id, name, template, schedule_expression, timezone,
               input, created_by, slack_channel)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
           RETURNING {_COLUMNS}""",  # noqa: S608 - constant columns
        (
            job_id,
            name,
            template,
            expression,
            timezone,
            Jsonb(workflow_input),
            created_by,
            slack_channel,
        ),
    ).fetchone()
    assert row is not None
    return _job(row)


def set_arn(conn: Conn, job_id: str, arn: str) -> None:
    conn.execute(
        "UPDATE scheduled_jobs SET schedule_arn = %s, updated_at = now() WHERE id = %s",
        (arn, job_id),
    )


def list_jobs(*, conn: Conn | None = None) -> list[ScheduledJob]:
    with in_transaction(conn) as tx:
        rows = tx.execute(
            f"SELECT {_COLUMNS} FROM scheduled_jobs ORDER BY created_at"  # noqa: S608 - constant
        ).fetchall()
    return [_job(row) for row in rows]


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def find(ref: str, *, conn: Conn | None = None) -> ScheduledJob:
    """A job by its id, its name, or the start of its id (8 hex or more); NotFound else."""
    ref = (ref or "").strip()
    if not ref:
        raise InvalidInput("give a schedule's id or name")
    with in_transaction(conn) as tx:
        row = None
        if _is_uuid(ref):
            row = tx.execute(
                f"SELECT {_COLUMNS} FROM scheduled_jobs WHERE id = %s",  # noqa: S608 - constant
                (ref,),
            ).fetchone()
        if row is None:
            row = tx.execute(
                f"SELECT {_COLUMNS} FROM scheduled_jobs WHERE name = %s",  # noqa: S608 - constant
                (ref,),
            ).fetchone()
        if row is None and _SHORT.match(ref.lower()):
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM scheduled_jobs"  # noqa: S608 - constant
                " WHERE replace(id::text, '-', '') LIKE %s LIMIT 2",
                (ref.lower() + "%",),
            ).fetchall()
            if len(rows) > 1:
                raise InvalidInput(f"`{ref}` matches more than one schedule; give more of its id")
            row = rows[0] if rows else None
    if row is None:
        raise NotFound(f"no schedule {ref!r} (`/workflow schedules` lists them)")
    return _job(row)


def get(job_id: str, *, conn: Conn | None = None) -> ScheduledJob | None:
    try:
        key = str(uuid.UUID(job_id))
    except ValueError:
        return None
    with in_transaction(conn) as tx:
        row = tx.execute(
            f"SELECT {_COLUMNS} FROM scheduled_jobs WHERE id = %s",  # noqa: S608 - constant
            (key,),
        ).fetchone()
    return _job(row) if row is not None else None


def delete(conn: Conn, job_id: str) -> bool:
    return conn.execute("DELETE FROM scheduled_jobs WHERE id = %s", (job_id,)).rowcount == 1


def mark_run(conn: Conn, job_id: str, workflow_id: str, *, one_time: bool) -> None:
    """Count a run; a one-time (``at``) schedule is done after it (its schedule deletes
    itself in EventBridge)."""
    conn.execute(
        """UPDATE scheduled_jobs SET runs = runs + 1, last_run_at = now(),
               last_workflow_id = %s, enabled = enabled AND NOT %s, updated_at = now()
           WHERE id = %s""",
        (workflow_id, one_time, job_id),
    )
