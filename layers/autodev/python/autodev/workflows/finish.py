"""Finishing a workflow: its outcome recorded on its row, then delivered to its callbacks.

The last state of every template calls ``finish_workflow`` (through
functions/workflow_finished); ``autodev.workflows.status`` records an end that Step Functions
reached without telling us, and ``autodev.workflows.cancel`` a cancellation, both through
``deliver_outcome`` here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from autodev import audit, callbacks
from autodev.db import connection
from autodev.errors import InvalidInput
from autodev.observability import best_effort_failed, child_logger
from autodev.orchestrator import queue
from autodev.workflows import approvals, records, sfn
from autodev.workflows.catalog import get_template
from autodev.workflows.ids import resolve_workflow_id
from autodev.workflows.models import WorkflowResult

log = child_logger(__name__)

FINISHING_STATUSES = frozenset({"succeeded", "failed", "timed_out"})


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
) -> WorkflowResult:
    """Record the outcome (the last state of every template calls this through
    functions/workflow_finished), then deliver it to the workflow's callbacks.

    Idempotent: a workflow that already has a final status keeps it and is not delivered again.
    Returns the delivered result.
    """
    if status not in FINISHING_STATUSES:
        raise InvalidInput(f"a workflow finishes as succeeded, failed or timed_out, not {status!r}")
    workflow_id = resolve_workflow_id(workflow_id)
    failure_error, cause = _failure_text(failure)
    error = error or failure_error
    with connection() as conn:
        row = records.load(conn, workflow_id)
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
            (
                status,
                Jsonb(output),
                error,
                cause,
                queue.workflow_spend(workflow_id, conn=conn),
                workflow_id,
            ),
        ).fetchone()
        if updated is None:
            return result_of(row)
        expired = approvals.close_pending(workflow_id, "expired", conn=conn)
        audit.record(
            "stepfunctions",
            "workflow.finished",
            workflow_id,
            {"status": status, "error": error, "cause": cause},
            conn=conn,
        )
        deliver_outcome(conn, updated)
    approvals.send_cards(expired)
    return result_of(updated)


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


def result_of(row: Mapping[str, Any]) -> WorkflowResult:
    """The result of the workflow whose row this is (as far as it has got)."""
    arn = row["execution_arn"]
    output = row["output"] or {}
    return WorkflowResult(
        workflow_id=str(row["id"]),
        template=str(row["template"]),
        status=str(row["status"]),
        success=row["status"] == "succeeded",
        summary=_summary(row),
        result=output.get("result") if isinstance(output, dict) else None,
        error=row["error"],
        cause=row["cause"],
        failed_step=None if row["status"] == "succeeded" else row["current_step"],
        execution_name=str(row["execution_name"]),
        execution_arn=arn,
        console_url=sfn.console_url(arn) if arn else None,
        requested_by=str(row["requested_by"]),
        cost_usd=float(row["cost_usd"] or 0),
        finished_at=row["finished_at"].isoformat() if row["finished_at"] else None,
    )


def deliver_outcome(conn: psycopg.Connection[Any], row: Mapping[str, Any]) -> None:
    """Hand the outcome to ``autodev.callbacks.deliver_result`` in the caller's transaction.

    It caches the result and queues it to the workflow's callbacks and the spec's
    ``workflow:completed`` event, committed with the outcome (an outbox). A savepoint keeps a
    delivery problem from undoing the outcome: it is logged, and the outcome stands.
    """
    result = result_of(row)
    try:
        with conn.transaction():
            callbacks.deliver_result(
                result.workflow_id, result.to_json(), target_kind="workflow", conn=conn
            )
    except Exception:
        best_effort_failed("result_delivery", log, workflow_id=str(result.workflow_id))
