"""The ``workflows`` table, which this package alone reads and writes: a row, its step, its
budget. Other packages reach a workflow's data through the functions of ``autodev.workflows``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from autodev.db import in_transaction
from autodev.errors import NotFound
from autodev.orchestrator import queue
from autodev.workflows.budget import WorkflowBudget

Conn = psycopg.Connection[Any]


def load(conn: Conn, workflow_id: str) -> dict[str, Any]:
    """The workflow's row; NotFound when there is none."""
    row = conn.execute("SELECT * FROM workflows WHERE id = %s", (workflow_id,)).fetchone()
    if row is None:
        raise NotFound(f"no workflow {workflow_id!r}")
    return dict(row)


def by_client_key(conn: Conn, client_key: str) -> dict[str, Any] | None:
    """The row of the workflow a client key started, if any."""
    row = conn.execute("SELECT * FROM workflows WHERE client_key = %s", (client_key,)).fetchone()
    return dict(row) if row is not None else None


def lock_status(conn: Conn, workflow_id: str) -> str:
    """The workflow's status, its row locked until ``conn`` commits (so that it cannot end
    while a step is being queued for it); NotFound when there is none."""
    row = conn.execute(
        "SELECT status FROM workflows WHERE id = %s FOR UPDATE", (workflow_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no workflow {workflow_id!r}")
    return str(row["status"])


def mark_step(workflow_id: str, state: str, *, waiting: bool = False, conn: Conn) -> None:
    """Record the step the workflow is on (and whether it now waits for an approval)."""
    conn.execute(
        """UPDATE workflows SET current_step = %s, updated_at = now(),
               status = CASE WHEN %s THEN 'waiting_approval' ELSE 'running' END
           WHERE id = %s AND status IN ('pending', 'running', 'waiting_approval')""",
        (state, waiting, workflow_id),
    )


def slack_thread(workflow_id: str, *, conn: Conn | None = None) -> tuple[str, str] | None:
    """The Slack (channel, thread_ts) the workflow was started in, if any."""
    with in_transaction(conn) as tx:
        row = tx.execute(
            "SELECT slack_channel, slack_thread_ts FROM workflows WHERE id = %s", (workflow_id,)
        ).fetchone()
    if row is None or not row["slack_channel"] or not row["slack_thread_ts"]:
        return None
    return str(row["slack_channel"]), str(row["slack_thread_ts"])


def latest_in_thread(channel: str, thread_ts: str, *, conn: Conn | None = None) -> str | None:
    """The id of the newest workflow started in a Slack thread (a follow-up run's, once one
    was started there), if any."""
    with in_transaction(conn) as tx:
        row = tx.execute(
            """SELECT id FROM workflows WHERE slack_channel = %s AND slack_thread_ts = %s
               ORDER BY created_at DESC LIMIT 1""",
            (channel, thread_ts),
        ).fetchone()
    return str(row["id"]) if row is not None else None


def status_counts(since: datetime, *, conn: Conn | None = None) -> dict[str, int]:
    """Workflows by status: those created or finished since ``since`` and the active ones."""
    with in_transaction(conn) as tx:
        rows = tx.execute(
            """SELECT status, count(*) AS n FROM workflows
               WHERE created_at >= %(since)s OR finished_at >= %(since)s
                  OR status IN ('pending', 'running', 'waiting_approval')
               GROUP BY status""",
            {"since": since},
        ).fetchall()
    return {str(row["status"]): int(row["n"]) for row in rows}


def workflow_budget(workflow_id: str, *, conn: Conn | None = None) -> WorkflowBudget:
    """The workflow's budget and what its tasks have cost so far (from the orchestrator);
    NotFound when there is no such workflow. Two reads, each of its moment (read committed
    either way), so without ``conn`` they need no transaction around them: two round trips,
    not four."""
    with in_transaction(conn, autocommit=True) as tx:
        row = tx.execute(
            "SELECT budget_usd FROM workflows WHERE id = %s", (workflow_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no workflow {workflow_id!r}")
        spent = queue.workflow_spend(workflow_id, conn=tx)
    limit = float(row["budget_usd"]) if row["budget_usd"] is not None else None
    return WorkflowBudget(limit_usd=limit, spent_usd=float(spent))
