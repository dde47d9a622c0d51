"""Reading workflows: one workflow with its steps so far, or the latest ones.

A workflow's row is refreshed from DescribeExecution when its execution ended without the
workflow recording it (stopped in the console, timed out as a whole); that end is then
delivered like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from autodev.db import connection
from autodev.workflows import approvals, records, sfn
from autodev.workflows.finish import end_workflow
from autodev.workflows.history import current_step, steps_from_history
from autodev.workflows.ids import resolve_workflow_id
from autodev.workflows.models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    StepRecord,
    WorkflowStatus,
)

# DescribeExecution status -> workflows.status, for executions that ended without telling us.
EXECUTION_STATUS = {
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


def get_workflow_status(workflow_id: str, *, read_execution: bool = True) -> WorkflowStatus:
    """The workflow's state, its current step and the steps so far, with their times.

    The row's status is refreshed from DescribeExecution when the execution ended without the
    workflow recording it (stopped in the console, timed out as a whole). With
    ``read_execution`` False, the row alone, without its steps: for a workflow just started,
    whose execution has nothing to tell yet, and whose starter should not wait on asking.
    """
    workflow_id = resolve_workflow_id(workflow_id)
    with connection() as conn:
        row = records.load(conn, workflow_id)
    steps: list[StepRecord] = []
    execution_status = "RUNNING"
    arn = row["execution_arn"]
    if arn and row["status"] != "pending" and read_execution:
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
            and execution_status in EXECUTION_STATUS
        ):
            row = _refresh(workflow_id, described) or row
    live_step = current_step(steps) if steps else None
    return to_status(row, steps, live_step)


def _refresh(workflow_id: str, described: Mapping[str, Any]) -> dict[str, Any] | None:
    # Its callbacks hear of the end too, sent at once.
    return end_workflow(
        workflow_id,
        EXECUTION_STATUS[str(described["status"])],
        error=described.get("error"),
        cause=described.get("cause"),
        finished_at=described.get("stopDate"),
        seen_by="status refresh",
    )


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
        started_by=str(row.get("started_by") or "api"),
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
