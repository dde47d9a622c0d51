"""Finishing a workflow: its outcome recorded on its row, then delivered to its callbacks.

The last state of every template calls ``finish_workflow`` (through
functions/workflow_finished); ``end_workflow`` records an end that Step Functions reached
without telling us, or an execution that no longer exists (``autodev.workflows.status`` when
someone looks, ``autodev.workflows.reconcile`` on a schedule and when the local stack starts);
``autodev.workflows.cancel`` records a cancellation. Each delivers through ``deliver_outcome``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from autodev import audit, callbacks, repos
from autodev.db import connection
from autodev.errors import InvalidInput
from autodev.observability import best_effort_failed, child_logger
from autodev.orchestrator import queue
from autodev.salesforce.display import tool_report
from autodev.workflows import approvals, records, sfn
from autodev.workflows.catalog import get_template
from autodev.workflows.ids import resolve_workflow_id
from autodev.workflows.models import Approval, WorkflowResult

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
    functions/workflow_finished), then deliver it to the workflow's callbacks: its delivery is
    set off (``kick_delivery``) as soon as it is committed, and the end's note in the
    workflow's conversation, whose learning is a model call, is handed on (``_to_conversation``):
    neither the people waiting on the result nor the execution wait for it.

    Idempotent: a workflow that already has a final status keeps it and is not delivered again
    (what a first call left undelivered is set off again).
    Returns the delivered result.
    """
    if status not in FINISHING_STATUSES:
        raise InvalidInput(f"a workflow finishes as succeeded, failed or timed_out, not {status!r}")
    workflow_id = resolve_workflow_id(workflow_id)
    failure_error, cause = _failure_text(failure)
    error = error or failure_error
    if status == "succeeded":
        # Before the outcome is recorded, so that the result delivered links the pull request.
        _propose_changes(workflow_id, steps)
    expired: list[Approval] = []
    with connection() as conn:
        row = records.load(conn, workflow_id)
        info = get_template(str(row["template"]))
        result = _last_result(info, steps or {})
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
        if updated is None:  # finished already (a finish that ran again)
            finished = result_of(row, conn)
        else:
            expired = approvals.close_pending(workflow_id, "expired", conn=conn)
            audit.record(
                "stepfunctions",
                "workflow.finished",
                workflow_id,
                {"status": status, "error": error, "cause": cause},
                conn=conn,
            )
            deliver_outcome(conn, updated)
            finished = result_of(updated, conn)
    # After the commit: the outcome goes out, then the cards of approvals the end closed say
    # so, then the conversation's end is handed on.
    callbacks.kick_delivery()
    if updated is not None:
        approvals.send_cards(expired)
        _to_conversation(workflow_id, status, _summary(updated))
    return finished


def _to_conversation(workflow_id: str, status: str, summary: str) -> None:
    """The end in the workflow's Slack conversation and what the conversation taught: handed
    to the Slack worker, off the execution's last state (the note is a token count, learning
    is a model call); done here where there is no Slack worker or it cannot be reached."""
    from autodev.slack.jobs import hand_workflow_end

    if not hand_workflow_end(workflow_id, status, summary):
        note_workflow_end(workflow_id, status, summary)


def note_handed_end(end: object) -> None:
    """``note_workflow_end`` for the end ``_to_conversation`` handed to the Slack worker; an
    event that does not fit is refused (InvalidInput) before anything is done."""
    from autodev.slack.jobs import WORKFLOW_END_KEY as KEY

    if not isinstance(end, Mapping):
        raise InvalidInput(f"{KEY} is an object")
    workflow_id, status, summary = (end.get(key) for key in ("workflow_id", "status", "summary"))
    if not isinstance(workflow_id, str) or not 0 < len(workflow_id) <= 100:
        raise InvalidInput(f"{KEY}.workflow_id is a workflow's id")
    if status not in FINISHING_STATUSES:
        raise InvalidInput(f"{KEY}.status is succeeded, failed or timed_out")
    if not isinstance(summary, str):
        raise InvalidInput(f"{KEY}.summary is text")
    note_workflow_end(workflow_id, str(status), summary)


def note_workflow_end(workflow_id: str, status: str, summary: str) -> None:
    """The end noted in the workflow's conversation and the conversation's lasting facts
    learnt as memories (autodev.conversations); best effort: the outcome is already out."""
    from autodev.conversations.runs import record_finished

    try:
        record_finished(workflow_id, status, summary)
    except Exception:
        best_effort_failed("workflow_conversation", log, workflow_id=workflow_id)


def _propose_changes(workflow_id: str, steps: Mapping[str, Any] | None) -> None:
    """Open the pull request of a workflow that changed files in its repository (draft
    unless AUTODEV_PULL_REQUEST_DRAFT is false); its body is the workflow's report."""
    from autodev.config import get_settings

    with connection() as conn:
        row = records.load(conn, workflow_id)
    if row["status"] not in ("pending", "running", "waiting_approval"):
        return  # finished already (a finish that ran twice): nothing new to propose
    info = get_template(str(row["template"]))
    done = dict(steps or {})
    preview = {**row, "status": "succeeded", "output": {"result": _last_result(info, done)}}
    arn = row["execution_arn"]
    data = row["input"] or {}
    report = repos.WorkflowReport(
        workflow_id=workflow_id,
        template_title=info.title,
        execution_name=str(row["execution_name"]),
        execution_url=sfn.console_url(arn) if arn else None,
        requested_by=str(row["requested_by"]),
        request=str(data.get(info.free_text_field) or ""),
        summary=_summary(preview),
        steps=[
            (step.state, str(done[step.key].get("summary") or ""))
            for step in info.steps
            if isinstance(done.get(step.key), dict)
        ],
        slack_channel=row["slack_channel"],
        slack_thread_ts=row["slack_thread_ts"],
    )
    repos.propose(report, draft=get_settings().autodev_pull_request_draft)


def _last_result(info: Any, steps: Mapping[str, Any]) -> Any:
    """The last step that ran in template order is the workflow's result."""
    for step in reversed(info.steps):
        if step.key in steps:
            return steps[step.key]
    return None


def end_workflow(
    workflow_id: str,
    status: str,
    *,
    error: str | None,
    cause: str | None,
    seen_by: str,
    finished_at: Any = None,
    kick: bool = True,
) -> dict[str, Any] | None:
    """Record that the workflow ended outside its last state (its execution stopped, timed out
    as a whole, or is gone): its tasks still queued or running are cancelled, its pending
    approvals expire, the end is audited and delivered, its delivery set off once committed
    (``kick``; a caller that may not invoke the delivery function leaves it to the sweep).
    Returns the updated row, or None when the workflow had already ended (nothing changes
    then)."""
    if status not in FINISHING_STATUSES | {"cancelled"}:
        raise InvalidInput(
            f"a workflow ends succeeded, failed, timed_out or cancelled, not {status!r}"
        )
    reason = cause or error or f"the workflow ended {status}"
    with connection() as conn:
        row = conn.execute(
            """UPDATE workflows SET status = %s, error = coalesce(error, %s),
                   cause = coalesce(cause, %s), finished_at = coalesce(%s, now()),
                   updated_at = now(), cost_usd = %s
               WHERE id = %s AND status IN ('pending', 'running', 'waiting_approval')
               RETURNING *""",
            (
                status,
                error,
                cause,
                finished_at,
                queue.workflow_spend(workflow_id, conn=conn),
                workflow_id,
            ),
        ).fetchone()
        if row is None:
            return None
        expired = approvals.close_pending(workflow_id, "expired", conn=conn)
        audit.record(
            "stepfunctions",
            "workflow.finished",
            workflow_id,
            {"status": status, "error": error, "cause": cause, "seen_by": seen_by},
            conn=conn,
        )
        deliver_outcome(conn, row)
    if kick:
        callbacks.kick_delivery()
    approvals.send_cards(expired)
    # After the commit: a worker that holds one of its tasks sees its lease vanish and stops.
    cancelled = queue.cancel_workflow_tasks(workflow_id, f"the workflow ended: {reason}")
    if cancelled:
        log.info("cancelled %d task(s) of ended workflow %s", len(cancelled), workflow_id)
    return dict(row)


def _summary(row: Mapping[str, Any]) -> str:
    text = _outcome_text(row)
    # What the tool steps said (Code Analyzer, Apex tests, deploys), as the tools said it.
    output = row["output"] if isinstance(row["output"], Mapping) else {}
    tools = tool_report(output.get("steps"))
    return f"{text}\n\n{tools}" if tools else text


def _outcome_text(row: Mapping[str, Any]) -> str:
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


def result_of(
    row: Mapping[str, Any], conn: psycopg.Connection[Any] | None = None
) -> WorkflowResult:
    """The result of the workflow whose row this is (as far as it has got)."""
    arn = row["execution_arn"]
    output = row["output"] or {}
    # Its repository, branch and pull request, when it works on a repository.
    links = repos.links(str(row["id"]), conn=conn)
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
        **links,
    )


def deliver_outcome(conn: psycopg.Connection[Any], row: Mapping[str, Any]) -> None:
    """Hand the outcome to ``autodev.callbacks.deliver_result`` in the caller's transaction.

    It caches the result and queues it to the workflow's callbacks and the spec's
    ``workflow:completed`` event, committed with the outcome (an outbox). A savepoint keeps a
    delivery problem from undoing the outcome: it is logged, and the outcome stands.
    """
    result = result_of(row, conn)
    try:
        with conn.transaction():
            callbacks.deliver_result(
                result.workflow_id, result.to_json(), target_kind="workflow", conn=conn
            )
    except Exception:
        best_effort_failed("result_delivery", log, workflow_id=str(result.workflow_id))
