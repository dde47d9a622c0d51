"""Reading workflows: one workflow with its steps so far, or the latest ones.

A workflow's row is refreshed from DescribeExecution when its execution ended without the
workflow recording it (stopped in the console, timed out as a whole); that end is then
delivered like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from autodev import audit
from autodev.db import connection
from autodev.workflows import approvals, records, sfn
from autodev.workflows.finish import deliver_outcome
from autodev.workflows.history import current_step, steps_from_history
from autodev.workflows.ids import resolve_workflow_id
from autodev.workflows.models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    Approval,
    StepRecord,
    WorkflowStatus,
)

# DescribeExecution status -> workflows.status, for executions that ended without telling us.
_EXECUTION_STATUS = {
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "TIMED_OUT": "timed_out",
    "ABORTED": "cancelled",
}


def _history(execution: str) -> list[dict[str, Any]]:
    events_: list[dict[str, Any]] = []
    paginator = sfn.sfn().get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=execution, PaginationConfig={"PageSize": 1000}):
        events_.extend(page["events"])
    return events_


def get_workflow_status(workflow_id: str) -> WorkflowStatus:
    """The workflow's state, its current step and the steps so far, with their times.

    The row's status is refreshed from DescribeExecution when the execution ended without the
    workflow recording it (stopped in the console, timed out as a whole).
    """
    workflow_id = resolve_workflow_id(workflow_id)
    with connection() as conn:
        row = records.load(conn, workflow_id)
    steps: list[StepRecord] = []
    execution_status = "RUNNING"
    arn = row["execution_arn"]
    if arn and row["status"] != "pending":
        try:
            described = sfn.sfn().describe_execution(executionArn=arn)
            execution_status = str(described["status"])
            steps = steps_from_history(_history(arn), execution_status)
        except (ClientError, BotoCoreError) as error:
            if sfn.error_code(error) != "ExecutionDoesNotExist":
                raise sfn.explain(error, f"read workflow {workflow_id}") from None
            described = None
        if (
            described is not None
            and row["status"] in ACTIVE_STATUSES
            and execution_status in _EXECUTION_STATUS
        ):
            row = _refresh(workflow_id, described) or row
    live_step = current_step(steps) if steps else None
    return to_status(row, steps, live_step)


def _refresh(workflow_id: str, described: Mapping[str, Any]) -> dict[str, Any] | None:
    status = _EXECUTION_STATUS[str(described["status"])]
    expired: list[Approval] = []
    with connection() as conn:
        row = conn.execute(
            """UPDATE workflows SET status = %s, error = coalesce(error, %s),
                   cause = coalesce(cause, %s), finished_at = coalesce(%s, now()),
                   updated_at = now()
               WHERE id = %s AND status IN ('pending', 'running', 'waiting_approval')
               RETURNING *""",
            (
                status,
                described.get("error"),
                described.get("cause"),
                described.get("stopDate"),
                workflow_id,
            ),
        ).fetchone()
        if row is not None:
            expired = approvals.close_pending(workflow_id, "expired", conn=conn)
            audit.record(
                "stepfunctions",
                "workflow.finished",
                workflow_id,
                {"status": status, "seen_by": "status refresh"},
                conn=conn,
            )
            # Its callbacks hear of the end too (sent by the next delivery sweep).
            deliver_outcome(conn, row)
    approvals.send_cards(expired)
    return dict(row) if row is not None else None


def to_status(
    row: Mapping[str, Any], steps: list[StepRecord], live_step: str | None
) -> WorkflowStatus:
    """The WorkflowStatus of a row, with the steps read from its execution (if any)."""
    finished = row["status"] in FINAL_STATUSES
    arn = row["execution_arn"]
    return WorkflowStatus(
        id=str(row["id"]),
        template=str(row["template"]),
        status=str(row["status"]),
        current_step=None if finished else (live_step or row["current_step"]),
        execution_name=str(row["execution_name"]),
        execution_arn=arn,
        console_url=sfn.console_url(arn) if arn else None,
        requested_by=str(row["requested_by"]),
        input=dict(row["input"] or {}),
        output=row["output"],
        error=row["error"],
        cause=row["cause"],
        cost_usd=float(row["cost_usd"] or 0),
        budget_usd=float(row["budget_usd"]) if row["budget_usd"] is not None else None,
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        slack_channel=row["slack_channel"],
        slack_thread_ts=row["slack_thread_ts"],
        steps=tuple(steps),
        approvals=tuple(approvals.approvals_for(str(row["id"]))),
    )


def list_workflows(limit: int = 20, status: str | None = None) -> list[WorkflowStatus]:
    """The latest workflows from their rows (no execution history), newest first."""
    with connection() as conn:
        if status is None:
            rows = conn.execute(
                "SELECT * FROM workflows ORDER BY created_at DESC LIMIT %s", (limit,)
            ).fetchall()
        else:
            rows = conn.execute(
                "SELECT * FROM workflows WHERE status = %s ORDER BY created_at DESC LIMIT %s",
                (status, limit),
            ).fetchall()
    return [to_status(row, [], None) for row in rows]
