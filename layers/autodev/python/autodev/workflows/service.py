"""Start, inspect, cancel and finish workflows: a ``workflows`` row beside each execution.

The row is written (and committed) before StartExecution, because the execution's first step
refers to it at once; if StartExecution fails, the row is removed again, so a retry with the
same client key starts afresh.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import psycopg
from botocore.exceptions import BotoCoreError, ClientError
from psycopg.types.json import Jsonb

from autodev import audit, callbacks
from autodev.db import connection
from autodev.errors import AutodevError, InvalidInput, NotFound
from autodev.observability import best_effort_failed, child_logger
from autodev.orchestrator import queue
from autodev.workflows import approvals, sfn
from autodev.workflows.catalog import PRIORITIES, TemplateInfo, get_template
from autodev.workflows.history import current_step, steps_from_history
from autodev.workflows.ids import resolve_workflow_id
from autodev.workflows.models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    StepRecord,
    WorkflowStart,
    WorkflowStatus,
)

log = child_logger(__name__)

# DescribeExecution status -> workflows.status, for executions that ended without telling us.
_EXECUTION_STATUS = {
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "TIMED_OUT": "timed_out",
    "ABORTED": "cancelled",
}


def _parse_id(workflow_id: str) -> str:
    """The workflow id that a person's reference (id, execution name or short id) names."""
    return resolve_workflow_id(workflow_id)


def _row(conn: psycopg.Connection[Any], workflow_id: str) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM workflows WHERE id = %s", (workflow_id,)).fetchone()
    if row is None:
        raise NotFound(f"no workflow {workflow_id!r}")
    return dict(row)


def _start_result(row: Mapping[str, Any], created: bool) -> WorkflowStart:
    arn = str(row["execution_arn"] or "")
    return WorkflowStart(
        id=str(row["id"]),
        template=str(row["template"]),
        execution_name=str(row["execution_name"]),
        execution_arn=arn,
        console_url=sfn.console_url(arn) if arn else "",
        status=str(row["status"]),
        created=created,
    )


def start_workflow(
    template: str,
    input: Any,  # the spec's name for it
    requested_by: str,
    callback: Mapping[str, Any] | None = None,
    *,
    client_key: str | None = None,
    budget_usd: float | None = None,
    slack_channel: str | None = None,
    slack_thread_ts: str | None = None,
    slack_status_ts: str | None = None,
    priority: str | None = None,
) -> WorkflowStart:
    """Validate, record and start a workflow; with a used ``client_key``, return its workflow.

    Its progress is tracked with its agent steps as stages; with ``slack_channel`` the
    progress is shown live in one status message in the thread ``slack_thread_ts``: the
    message ``slack_status_ts`` (the Slack status card) edited in place, or a new one.
    Raises NotFound for an unknown template and InvalidInput for input the template's schema
    refuses; in both cases nothing is recorded or started.
    """
    info = get_template(template)
    data = info.validate_input(input if input is not None else {})
    priority = priority or info.default_priority
    if priority not in PRIORITIES:
        raise InvalidInput(f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}")
    if budget_usd is not None and not budget_usd > 0:
        raise InvalidInput(f"a budget must be above 0 US dollars, not {budget_usd!r}")
    if not requested_by or not requested_by.strip():
        raise InvalidInput("a workflow needs the id of who requested it")
    if callback is not None and not isinstance(callback, Mapping):
        raise InvalidInput("a callback must be a JSON object")
    if client_key is not None:
        with connection() as conn:
            existing = conn.execute(
                "SELECT * FROM workflows WHERE client_key = %s", (client_key,)
            ).fetchone()
        if existing is not None:
            return _start_result(existing, created=False)

    try:
        machine = sfn.state_machine_arn(template)
    except (ClientError, BotoCoreError) as error:
        raise sfn.explain(error, f"start {template}") from None
    workflow_id = uuid.uuid4()
    name = f"{template}-{workflow_id.hex[:8]}"
    planned_arn = sfn.execution_arn(machine, name)
    budget = budget_usd if budget_usd is not None else info.default_budget_usd
    with connection() as conn:
        row = conn.execute(
            """INSERT INTO workflows (id, template, execution_name, execution_arn, status, input,
                   requested_by, client_key, callback, budget_usd, slack_channel, slack_thread_ts)
               VALUES (%s, %s, %s, %s, 'pending', %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (client_key) DO NOTHING
               RETURNING id""",
            (
                workflow_id,
                template,
                name,
                planned_arn,
                Jsonb(data),
                requested_by,
                client_key,
                Jsonb(dict(callback)) if callback is not None else None,
                budget,
                slack_channel,
                slack_thread_ts,
            ),
        ).fetchone()
        if row is None:  # the same key won a race a moment ago
            existing = conn.execute(
                "SELECT * FROM workflows WHERE client_key = %s", (client_key,)
            ).fetchone()
            assert existing is not None
            return _start_result(existing, created=False)
        if callback is not None:
            # Refused callbacks (InvalidInput) roll the row back: nothing is started.
            callbacks.register_callback(
                str(workflow_id), dict(callback), target_kind="workflow", conn=conn
            )

    # Tracked before the execution starts, so its first step's progress rolls up into it.
    _track(workflow_id, info, slack_channel, slack_thread_ts, slack_status_ts)
    execution_input = {
        "workflow_id": str(workflow_id),
        "template": template,
        "priority": priority,
        "input": data,
        "requested_by": requested_by,
        "budget_usd": budget,
    }
    try:
        started = sfn.sfn().start_execution(
            stateMachineArn=machine, name=name, input=json.dumps(execution_input)
        )
    except (ClientError, BotoCoreError) as error:
        with connection() as conn:
            conn.execute("DELETE FROM workflows WHERE id = %s", (workflow_id,))
        _untrack(workflow_id)
        raise sfn.explain(error, f"start {template}") from None

    with connection() as conn:
        row = conn.execute(
            """UPDATE workflows SET execution_arn = %s, updated_at = now(),
                   status = CASE WHEN status = 'pending' THEN 'running' ELSE status END
               WHERE id = %s RETURNING *""",
            (started["executionArn"], workflow_id),
        ).fetchone()
        audit.record(
            requested_by,
            "workflow.started",
            str(workflow_id),
            {
                "template": template,
                "execution_name": name,
                "priority": priority,
                "client_key": client_key,
            },
            conn=conn,
        )
    assert row is not None
    return _start_result(row, created=True)


def _track(
    workflow_id: uuid.UUID,
    info: TemplateInfo,
    channel: str | None,
    thread_ts: str | None,
    status_ts: str | None,
) -> None:
    """Start the workflow's progress (advisory: a failure is logged, the workflow runs).

    The stages are named as enqueue_task names the steps' tasks (the state names), which
    is what the worker's progress reports roll up under.
    """
    from autodev import progress

    stages = [{"name": step.state, "weight": 1} for step in info.steps if step.kind == "agent"]
    try:
        progress.start_tracking(
            str(workflow_id),
            info.name,
            stages or None,
            kind="workflow",
            slack_channel=channel,
            slack_thread_ts=thread_ts if channel else None,
            slack_message_ts=status_ts if channel else None,
        )
    except Exception:
        best_effort_failed("progress_tracking", log, workflow_id=str(workflow_id))


def _untrack(workflow_id: uuid.UUID) -> None:
    from autodev import progress

    try:
        progress.forget(str(workflow_id))
    except Exception:
        best_effort_failed("progress_tracking", log, workflow_id=str(workflow_id))


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
    workflow_id = _parse_id(workflow_id)
    with connection() as conn:
        row = _row(conn, workflow_id)
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
    return _status(row, steps, live_step)


def _refresh(workflow_id: str, described: Mapping[str, Any]) -> dict[str, Any] | None:
    status = _EXECUTION_STATUS[str(described["status"])]
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
            approvals.close_pending(workflow_id, "expired", conn=conn)
            audit.record(
                "stepfunctions",
                "workflow.finished",
                workflow_id,
                {"status": status, "seen_by": "status refresh"},
                conn=conn,
            )
            # Its callbacks hear of the end too (sent by the next delivery sweep).
            _deliver(conn, row)
    return dict(row) if row is not None else None


def _status(
    row: Mapping[str, Any], steps: list[StepRecord], live_step: str | None
) -> WorkflowStatus:
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
    return [_status(row, [], None) for row in rows]


def mark_step(
    workflow_id: str, state: str, *, waiting: bool = False, conn: psycopg.Connection[Any]
) -> None:
    """Record the step the workflow is on (and whether it now waits for an approval)."""
    conn.execute(
        """UPDATE workflows SET current_step = %s, updated_at = now(),
               status = CASE WHEN %s THEN 'waiting_approval' ELSE 'running' END
           WHERE id = %s AND status IN ('pending', 'running', 'waiting_approval')""",
        (state, waiting, workflow_id),
    )


def workflow_budget(workflow_id: str, conn: psycopg.Connection[Any]) -> float | None:
    """The workflow's budget; NotFound when there is no such workflow."""
    row = conn.execute("SELECT budget_usd FROM workflows WHERE id = %s", (workflow_id,)).fetchone()
    if row is None:
        raise NotFound(f"no workflow {workflow_id!r}")
    return float(row["budget_usd"]) if row["budget_usd"] is not None else None


def cancel_workflow(workflow_id: str, by: str) -> WorkflowStatus:
    """Stop the execution, cancel its queued and running tasks and pending approvals."""
    workflow_id = _parse_id(workflow_id)
    with connection() as conn:
        row = _row(conn, workflow_id)
    if row["status"] in FINAL_STATUSES:
        raise AutodevError(f"workflow {workflow_id} has already finished ({row['status']})")
    reason = f"cancelled by {by}"
    if row["execution_arn"]:
        try:
            sfn.sfn().stop_execution(
                executionArn=row["execution_arn"], error="WorkflowCancelled", cause=reason
            )
        except (ClientError, BotoCoreError) as error:
            if sfn.error_code(error) != "ExecutionDoesNotExist":
                raise sfn.explain(error, f"cancel workflow {workflow_id}") from None
    cancelled_tasks = queue.cancel_workflow_tasks(workflow_id, reason)
    with connection() as conn:
        updated = conn.execute(
            """UPDATE workflows SET status = 'cancelled', error = 'WorkflowCancelled', cause = %s,
                   finished_at = now(), updated_at = now(), cost_usd = %s
               WHERE id = %s AND status IN ('pending', 'running', 'waiting_approval')
               RETURNING *""",
            (reason, _cost(conn, workflow_id), workflow_id),
        ).fetchone()
        approvals.close_pending(workflow_id, "cancelled", conn=conn)
        audit.record(
            by,
            "workflow.cancelled",
            workflow_id,
            {"tasks_cancelled": len(cancelled_tasks)},
            conn=conn,
        )
        final = dict(updated) if updated is not None else _row(conn, workflow_id)
        if updated is not None:
            _deliver(conn, final)
    return _status(final, [], None)


def _cost(conn: psycopg.Connection[Any], workflow_id: str) -> Decimal:
    # The tasks' own cost columns, summed; the queue records each task's usage.
    row = conn.execute(
        "SELECT coalesce(sum(cost_usd), 0) AS cost FROM autonomous_tasks WHERE workflow_id = %s",
        (workflow_id,),
    ).fetchone()
    return Decimal(row["cost"]) if row is not None else Decimal(0)


def _failure_text(failure: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    if not failure:
        return None, None
    error = failure.get("Error")
    cause = failure.get("Cause")
    if isinstance(cause, str):
        # A Lambda error arrives as its JSON payload; its message is what a person needs.
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            cause = str(parsed["errorMessage"])
    return (str(error) if error is not None else None, str(cause) if cause is not None else None)


def finish_workflow(
    workflow_id: str,
    status: str,
    *,
    steps: Mapping[str, Any] | None = None,
    failure: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """Record the outcome (the last state of every template calls this through
    functions/workflow_finished), then deliver it to the workflow's callbacks.

    Idempotent: a workflow that already has a final status keeps it and is not delivered again.
    Returns the delivered result.
    """
    if status not in {"succeeded", "failed", "timed_out"}:
        raise InvalidInput(f"a workflow finishes as succeeded, failed or timed_out, not {status!r}")
    workflow_id = _parse_id(workflow_id)
    failure_error, cause = _failure_text(failure)
    error = error or failure_error
    with connection() as conn:
        row = _row(conn, workflow_id)
        info = get_template(str(row["template"]))
        result = None
        if steps:
            # The last step that ran in template order is the workflow's result.
            for step in reversed(info.steps):
                if step.key in steps:
                    result = steps[step.key]
                    break
        output = {"result": result, "steps": dict(steps or {})}
        updated = conn.execute(
            """UPDATE workflows SET status = %s, output = %s, error = %s, cause = %s,
                   finished_at = now(), updated_at = now(), cost_usd = %s
               WHERE id = %s AND status IN ('pending', 'running', 'waiting_approval')
               RETURNING *""",
            (status, Jsonb(output), error, cause, _cost(conn, workflow_id), workflow_id),
        ).fetchone()
        if updated is None:
            return _result(row)
        approvals.close_pending(workflow_id, "expired", conn=conn)
        audit.record(
            "stepfunctions",
            "workflow.finished",
            workflow_id,
            {"status": status, "error": error, "cause": cause},
            conn=conn,
        )
        _deliver(conn, updated)
    return _result(updated)


def _summary(row: Mapping[str, Any]) -> str:
    title = get_template(str(row["template"])).title
    status = str(row["status"])
    if status == "succeeded":
        result = (row["output"] or {}).get("result")
        if isinstance(result, dict):
            for key in ("summary", "text", "result"):
                if isinstance(result.get(key), str) and result[key].strip():
                    return str(result[key]).strip()[:3000]
        if isinstance(result, str) and result.strip():
            return result.strip()[:3000]
        return f"{title} finished."
    where = f" at {row['current_step']!r}" if row["current_step"] else ""
    words = {"failed": "failed", "timed_out": "timed out", "cancelled": "was cancelled"}
    because = f": {row['cause'] or row['error']}" if (row["cause"] or row["error"]) else ""
    return f"{title} {words.get(status, status)}{where}{because}"


def _result(row: Mapping[str, Any]) -> dict[str, Any]:
    arn = row["execution_arn"]
    output = row["output"] or {}
    return {
        "workflow_id": str(row["id"]),
        "template": str(row["template"]),
        "status": str(row["status"]),
        "success": row["status"] == "succeeded",
        "summary": _summary(row),
        "result": output.get("result") if isinstance(output, dict) else None,
        "error": row["error"],
        "cause": row["cause"],
        "failed_step": None if row["status"] == "succeeded" else row["current_step"],
        "execution_name": str(row["execution_name"]),
        "execution_arn": arn,
        "console_url": sfn.console_url(arn) if arn else None,
        "requested_by": str(row["requested_by"]),
        "cost_usd": float(row["cost_usd"] or 0),
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
    }


def _deliver(conn: psycopg.Connection[Any], row: Mapping[str, Any]) -> None:
    """Hand the outcome to ``autodev.callbacks.deliver_result`` in the caller's transaction.

    It caches the result and queues it to the workflow's callbacks and the spec's
    ``workflow:completed`` event, committed with the outcome (an outbox). A savepoint keeps a
    delivery problem from undoing the outcome: it is logged, and the outcome stands.
    """
    result = _result(row)
    try:
        with conn.transaction():
            callbacks.deliver_result(
                result["workflow_id"], result, target_kind="workflow", conn=conn
            )
    except Exception:
        best_effort_failed("result_delivery", log, workflow_id=str(result["workflow_id"]))
