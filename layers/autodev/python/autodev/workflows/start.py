"""Starting a workflow: a ``workflows`` row beside a Step Functions execution.

The row is written (and committed) before StartExecution, because the execution's first step
refers to it at once; if StartExecution fails, the row is removed again, so a retry with the
same client key starts afresh.

Once the row is committed (every check passed), the scaler is asked for the worker of the
workflow's first step (``steps.scale_ahead``), beside StartExecution: on a cold start the worker
boots while the execution reaches the step, rather than after the step is queued. A start
by a Slack command asks no more (``StartRequest.worker_asked``): the front door asked when the
command arrived (``steps.scale_ahead_of_request``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from psycopg.types.json import Jsonb

from autodev import audit, callbacks, repos
from autodev.background import started
from autodev.db import connection
from autodev.observability import best_effort_failed, child_logger
from autodev.workflows import records, sfn
from autodev.workflows.catalog import TemplateInfo, get_template
from autodev.workflows.models import StartRequest, WorkflowStart

log = child_logger(__name__)


def _start_result(row: Mapping[str, Any], created: bool) -> WorkflowStart:
    arn = str(row["execution_arn"] or "")
    return WorkflowStart(
        id=str(row["id"]),
        template=str(row["template"]),
        execution_name=str(row["execution_name"]),
        execution_arn=arn,
        console_url=(sfn.console_url(arn) if arn else None) or "",
        status=str(row["status"]),
        created=created,
    )


def workflow_budget_for(info: TemplateInfo, requested: float | None) -> float:
    """The budget a new workflow gets: the one asked for (``StartRequest`` has checked it
    against ``WORKFLOW_MAX_BUDGET_USD``: a person who names a budget gets it or a refusal,
    never a silently smaller one), else its template's default, never above
    ``WORKFLOW_BUDGET_USD`` (what a workflow nobody gave a budget may spend)."""
    from autodev.config import get_settings

    if requested is not None:
        return requested
    return min(info.default_budget_usd, get_settings().workflow_budget_usd)


# A caller that opens the workflow's Slack thread while the start is checked (the Slack
# worker posts the thread's first message meanwhile) gives ``start_workflow`` this: called once
# every check has passed, just before the workflow is recorded, it waits for the thread and
# answers the request naming it (or the request unchanged, when no thread could be opened).
AttachThread = Callable[[StartRequest], StartRequest]


def start_workflow(
    request: StartRequest, *, attach_thread: AttachThread | None = None
) -> WorkflowStart:
    """Validate, record and start a workflow; with a used ``client_key``, return its workflow.

    Its progress is tracked with its agent steps as stages (shown live in Slack when the
    request names a channel). Raises NotFound for an unknown template and InvalidInput for
    input the template's schema refuses; in both cases nothing is recorded or started.
    ``attach_thread`` (see ``AttachThread``) is not called when the start is refused or the
    client key was used.
    """
    info = get_template(request.template)
    data = info.validate_input(request.input if request.input is not None else {})
    priority = request.priority or info.default_priority
    if request.client_key is not None:
        with connection(autocommit=True) as conn:  # one read: one round trip
            existing = records.by_client_key(conn, request.client_key)
        if existing is not None:
            return _start_result(existing, created=False)

    # The repository and ref, checked before anything starts (an unknown name or ref is
    # refused here); None: the workflow works on a copy of a plain directory.
    planned = repos.plan(data)
    if planned is not None:
        data = {**data, "repo": planned.repository.name, "ref": planned.ref}
    template = request.template
    try:
        machine = sfn.state_machine_arn(template)
    except (ClientError, BotoCoreError) as error:
        raise sfn.explain(error, f"start {template}") from None
    if attach_thread is not None:
        request = attach_thread(request)
    workflow_id = uuid.uuid4()
    name = f"{template}-{workflow_id.hex[:8]}"
    planned_arn = sfn.execution_arn(machine, name)
    budget = workflow_budget_for(info, request.budget_usd)
    callback = dict(request.callback) if request.callback is not None else None
    with connection() as conn:
        row = conn.execute(
            """INSERT INTO workflows (id, template, execution_name, execution_arn, status, input,
                   requested_by, client_key, callback, budget_usd, slack_channel, slack_thread_ts,
                   started_by)
               VALUES (%s, %s, %s, %s, 'pending', %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (client_key) DO NOTHING
               RETURNING id""",
            (
                workflow_id,
                template,
                name,
                planned_arn,
                Jsonb(data),
                request.requested_by,
                request.client_key,
                Jsonb(callback) if callback is not None else None,
                budget,
                request.slack_channel,
                request.slack_thread_ts,
                request.started_by,
            ),
        ).fetchone()
        if row is None:  # the same key won a race a moment ago
            assert request.client_key is not None
            existing = records.by_client_key(conn, request.client_key)
            assert existing is not None
            return _start_result(existing, created=False)
        if planned is not None:
            repos.attach(conn, str(workflow_id), template, request.requested_by, planned)
        if callback is not None:
            # Refused callbacks (InvalidInput) roll the row back: nothing is started.
            callbacks.register_callback(
                str(workflow_id), callback, target_kind="workflow", conn=conn
            )

    # Its first step's worker boots while the execution reaches the step (not after the step is
    # queued): asked for in the background, joined before returning. Should StartExecution
    # fail below, that worker finds nothing to claim and leaves after its idle timeout.
    ahead = None if request.worker_asked else _scale_ahead(str(workflow_id), template)
    try:
        return _start_recorded(request, info, data, priority, workflow_id, name, machine, budget)
    finally:
        if ahead is not None:
            ahead.result()


def _start_recorded(
    request: StartRequest,
    info: TemplateInfo,
    data: dict[str, Any],
    priority: str,
    workflow_id: uuid.UUID,
    name: str,
    machine: str,
    budget: float,
) -> WorkflowStart:
    """Track the recorded workflow and start its execution (undone if the start fails)."""
    template = request.template
    # Tracked before the execution starts, so its first step's progress rolls up into it; its
    # status message goes to Slack once the execution has started (``_announce``), as Slack's
    # answer takes a tenth of a second or more that the first step need not wait for.
    track(
        str(workflow_id),
        info,
        slack_channel=request.slack_channel,
        slack_thread_ts=request.slack_thread_ts,
        slack_status_ts=request.slack_status_ts,
        slack_later=True,
    )
    execution_input = {
        "workflow_id": str(workflow_id),
        "template": template,
        "priority": priority,
        "input": data,
        "requested_by": request.requested_by,
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
            request.requested_by,
            "workflow.started",
            str(workflow_id),
            {
                "template": template,
                "execution_name": name,
                "priority": priority,
                "client_key": request.client_key,
                "started_by": request.started_by,
            },
            conn=conn,
        )
    assert row is not None
    _announce(str(workflow_id))
    return _start_result(row, created=True)


def _scale_ahead(workflow_id: str, template: str) -> Future[bool] | None:
    """Ask the scaler for the worker of the workflow's first step, in a thread whose result the
    caller waits for; None when that step needs no worker (an approval)."""
    from autodev.workflows.catalog import starts_with_worker_step
    from autodev.workflows.steps import scale_ahead

    if not starts_with_worker_step(template):
        return None
    return started("scale-ahead", scale_ahead, workflow_id)


def track(
    workflow_id: str,
    info: TemplateInfo,
    *,
    slack_channel: str | None = None,
    slack_thread_ts: str | None = None,
    slack_status_ts: str | None = None,
    slack_later: bool = False,
) -> None:
    """Start the workflow's progress (advisory: a failure is logged, the workflow runs).

    The stages are named as enqueue_task names the steps' tasks (the state names), which
    is what the worker's progress reports roll up under. With ``slack_later``, its status
    message waits for ``_announce``.
    """
    from autodev import progress

    # Every step a worker runs (agent or tool) is a stage; an approval is not.
    stages = [{"name": step.state, "weight": 1} for step in info.steps if step.kind != "approval"]
    try:
        progress.start_tracking(
            workflow_id,
            info.name,
            stages or None,
            kind="workflow",
            slack_channel=slack_channel,
            slack_thread_ts=slack_thread_ts if slack_channel else None,
            slack_message_ts=slack_status_ts if slack_channel else None,
            slack_later=slack_later,
        )
    except Exception:
        best_effort_failed("progress_tracking", log, workflow_id=workflow_id)


def _announce(workflow_id: str) -> None:
    """Send the status message ``track`` left for later (advisory, as ``track``; the delivery
    sweep sends what this does not)."""
    from autodev import progress

    try:
        progress.send_status(workflow_id)
    except Exception:
        best_effort_failed("progress_tracking", log, workflow_id=workflow_id)


def _untrack(workflow_id: uuid.UUID) -> None:
    from autodev import progress

    try:
        progress.forget(str(workflow_id))
    except Exception:
        best_effort_failed("progress_tracking", log, workflow_id=str(workflow_id))


def record_execution(
    template: str,
    workflow_input: Any,
    requested_by: str,
    *,
    execution_arn: str,
    execution_name: str,
    client_key: str,
    actor: str,
    audit_detail: Mapping[str, Any],
    slack_channel: str | None = None,
    slack_thread_ts: str | None = None,
) -> tuple[WorkflowStart, dict[str, Any]]:
    """Record the workflow of an execution started elsewhere (a schedule started the state
    machine): its row, a callback to its Slack thread, its progress and the audit trail.

    Returns the workflow and the start input its state machine goes on with (what
    ``start_workflow`` would have started it with). With a used ``client_key`` nothing is
    recorded: the workflow recorded before comes back with ``created`` False (the caller
    compares its execution). The input is checked against the template's schema
    (InvalidInput), since the schedule may have outlived a change to it.
    """
    info = get_template(template)
    data = info.validate_input(workflow_input if workflow_input is not None else {})
    budget = workflow_budget_for(info, None)
    workflow_id = uuid.uuid4()
    callback = (
        {"type": "slack", "channel": slack_channel, "thread_ts": slack_thread_ts}
        if slack_channel
        else None
    )
    with connection() as conn:
        row = conn.execute(
            """INSERT INTO workflows (id, template, execution_name, execution_arn, status, input,
                   requested_by, client_key, callback, budget_usd, slack_channel, slack_thread_ts)
               VALUES (%s, %s, %s, %s, 'running', %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (client_key) DO NOTHING
               RETURNING *""",
            (
                workflow_id,
                template,
                execution_name,
                execution_arn,
                Jsonb(data),
                requested_by,
                client_key,
                Jsonb(callback) if callback is not None else None,
                budget,
                slack_channel,
                slack_thread_ts,
            ),
        ).fetchone()
        created = row is not None
        if row is None:
            row = records.by_client_key(conn, client_key)
            assert row is not None
        elif callback is not None:
            callbacks.register_callback(
                str(workflow_id), callback, target_kind="workflow", conn=conn
            )
        if created:
            audit.record(
                actor,
                "workflow.started",
                str(workflow_id),
                {"template": template, "execution_name": execution_name, **audit_detail},
                conn=conn,
            )
    start_input = {
        "workflow_id": str(row["id"]),
        "template": template,
        "priority": info.default_priority,
        "input": dict(row["input"] or {}),
        "requested_by": str(row["requested_by"]),
        "budget_usd": float(row["budget_usd"]) if row["budget_usd"] is not None else None,
    }
    if created:
        track(
            str(workflow_id),
            info,
            slack_channel=slack_channel,
            slack_thread_ts=slack_thread_ts,
            slack_status_ts=slack_thread_ts,
        )
    return _start_result(row, created=created), start_input


def started_with_key(client_key: str) -> WorkflowStart | None:
    """The workflow a client key recorded or started, if any (``created`` False)."""
    with connection() as conn:
        row = records.by_client_key(conn, client_key)
    return _start_result(row, created=False) if row is not None else None
