"""The audit trail: one function that every component uses to record what happened, and
the views that read it back (the latest events; one workflow's or one schedule's trail)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from autodev.db import connection, in_transaction


def record(
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    *,
    conn: psycopg.Connection[Any] | None = None,
) -> int:
    """Append an audit event and return its id.

    Pass ``conn`` to write inside the caller's transaction, so the event and the change it
    describes commit (or roll back) together; without it, the insert is its own transaction,
    sent and committed in one round trip.
    """
    query = (
        "INSERT INTO audit_log (actor, action, target, detail) VALUES (%s, %s, %s, %s) RETURNING id"
    )
    params = (actor, action, target, Jsonb(detail or {}))
    with in_transaction(conn, autocommit=True) as tx:
        row = tx.execute(query, params).fetchone()
    assert row is not None
    return int(row["id"] if isinstance(row, dict) else row[0])


def recent(limit: int = 50, target: str | None = None) -> list[dict[str, Any]]:
    """The latest audit events, newest first, optionally for one target."""
    with connection() as conn:
        if target is None:
            rows = conn.execute(
                "SELECT id, occurred_at, actor, action, target, detail FROM audit_log "
                "ORDER BY id DESC LIMIT %s",
                (limit,),
            ).fetchall()
        else:
            rows = conn.execute(
                "SELECT id, occurred_at, actor, action, target, detail FROM audit_log "
                "WHERE target = %s ORDER BY id DESC LIMIT %s",
                (target, limit),
            ).fetchall()
    return [dict(row) for row in rows]


@dataclass(frozen=True)
class AuditEvent:
    id: int
    occurred_at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]

    def describe(self) -> str:
        """What happened, in words (who is shown apart, by ``actor``)."""
        d = self.detail
        described = _DESCRIPTIONS.get(self.action)
        if described is not None:
            try:
                return described(d)
            except (KeyError, TypeError, ValueError):
                pass
        shown = ", ".join(f"{k}={v}" for k, v in sorted(d.items()) if v not in (None, "", {}))
        return self.action + (f" ({shown[:200]})" if shown else "")


def _comment(d: dict[str, Any]) -> str:
    return f": {d['comment']}" if d.get("comment") else ""


_DESCRIPTIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "workflow.started": lambda d: (
        f"started {d['template']} as {d['execution_name']}"
        + (
            f" (scheduled run of {d['schedule']}, set up by {d['scheduled_by']})"
            if d.get("schedule")
            else ""
        )
    ),
    "approval.requested": lambda d: f"asked for approval at {d['step']}",
    "approval.approved": lambda d: "approved" + _comment(d),
    "approval.rejected": lambda d: "rejected" + _comment(d),
    "workflow.cancelled": lambda d: f"cancelled it ({d.get('tasks_cancelled', 0)} task(s) stopped)",
    "workflow.finished": lambda d: (
        f"recorded the end: {d['status']}" + (f" ({d['error']})" if d.get("error") else "")
    ),
    "schedule.created": lambda d: (
        f"scheduled {d['template']} {d['expression']} {d['timezone']} as {d['name']}"
    ),
    "schedule.deleted": lambda d: f"removed the schedule {d['name']}",
}

_COLUMNS = "id, occurred_at, actor, action, target, detail"


def _events(rows: list[Any]) -> list[AuditEvent]:
    return [
        AuditEvent(
            int(r["id"]), r["occurred_at"], r["actor"], r["action"], r["target"], dict(r["detail"])
        )
        for r in rows
    ]


def workflow_trail(workflow_id: str, limit: int = 500) -> list[AuditEvent]:
    """Who started, approved, rejected, cancelled and scheduled the workflow, and when:
    its events, and those of the schedule that started it, oldest first."""
    with connection() as conn:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM audit_log WHERE target = %s"  # noqa: S608 - constant
            " ORDER BY occurred_at, id LIMIT %s",
            (workflow_id, limit),
        ).fetchall()
        schedules = sorted(
            {
                str(r["detail"]["scheduled_job_id"])
                for r in rows
                if r["action"] == "workflow.started" and r["detail"].get("scheduled_job_id")
            }
        )
        if schedules:
            rows += conn.execute(
                f"SELECT {_COLUMNS} FROM audit_log"  # noqa: S608 - constant
                " WHERE target = ANY(%s) AND action LIKE 'schedule.%%' LIMIT %s",
                (schedules, limit),
            ).fetchall()
    return sorted(_events(rows), key=lambda e: (e.occurred_at, e.id))


def schedule_trail(job_id: str, limit: int = 500) -> list[AuditEvent]:
    """Who created and removed a schedule, and the runs it started, oldest first."""
    with connection() as conn:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM audit_log"  # noqa: S608 - constant
            " WHERE target = %s"
            "    OR (action = 'workflow.started' AND detail->>'scheduled_job_id' = %s)"
            " ORDER BY occurred_at, id LIMIT %s",
            (job_id, job_id, limit),
        ).fetchall()
    return _events(rows)


def trail_for(ref: str) -> tuple[str, list[AuditEvent]]:
    """The trail of a workflow (its id, execution name or short id), else of a schedule (its
    id, name or short id): a title and the events, oldest first. NotFound for neither."""
    from autodev.errors import NotFound
    from autodev.schedules import store
    from autodev.workflows import resolve_workflow_id

    try:
        workflow_id = resolve_workflow_id(ref)
    except NotFound:
        job = store.find(ref)
        return f"schedule {job.name}", schedule_trail(job.id)
    events = workflow_trail(workflow_id)
    started = next((e for e in events if e.action == "workflow.started"), None)
    if started is not None and started.detail.get("execution_name"):
        title = f"{started.detail.get('template')} {started.detail['execution_name']}"
    else:
        title = f"workflow {workflow_id}"
    return title, events
