"""A scheduled run's first step: record its workflow and say so in Slack.

EventBridge Scheduler (the local stack's ticker) starts the template's state machine with
``{"scheduled_job_id", "scheduled_time"}``; its ``Register the scheduled run`` state calls
functions/scheduled_run with those and the execution's ARN and name. ``register_run``:

- records the workflow for this execution (client key ``schedule:<job id>:<scheduled time>``,
  so Scheduler's at-least-once delivery never runs one firing twice: a second execution for the
  same firing is told ``run: false``; a retried call for this execution gets its answer again);
- opens a thread in the channel that scheduled it, whose root becomes the run's live status
  message, and where its result is posted;
- counts the run on the schedule (a one-time ``at`` schedule is then done);
- answers with the start input the state machine goes on with, and ``run: true``. A schedule
  removed since it fired (or a one-time one that already ran) answers ``run: false`` and the
  execution ends at ``Nothing to run``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autodev.db import connection
from autodev.errors import InvalidInput
from autodev.observability import best_effort, child_logger
from autodev.schedules import store
from autodev.schedules.expressions import parse_expression

log = child_logger(__name__)


class RunRequest(BaseModel):
    """What the state machine's ``Register the scheduled run`` state sends."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    scheduled_job_id: str = Field(min_length=1, max_length=64)
    scheduled_time: str = Field(min_length=1, max_length=64)
    template: str = Field(min_length=1, max_length=64)
    execution_arn: str = Field(min_length=1, max_length=2048)
    execution_name: str = Field(min_length=1, max_length=80)


def parse_request(event: Any) -> RunRequest:
    try:
        return RunRequest.model_validate(event)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise InvalidInput(f"the scheduled run is not valid at {where}: {first['msg']}") from None


def _skip(reason: str) -> dict[str, Any]:
    log.info("scheduled run skipped: %s", reason)
    return {"run": False, "reason": reason}


def register_run(request: RunRequest) -> dict[str, Any]:
    from autodev import workflows

    job = store.get(request.scheduled_job_id)
    if job is None:
        return _skip(f"schedule {request.scheduled_job_id} no longer exists")
    if job.template != request.template:
        return _skip(f"schedule {job.name} is for {job.template}, not {request.template}")
    key = f"schedule:{job.id}:{request.scheduled_time}"
    earlier = workflows.started_with_key(key)
    if earlier is not None and earlier.execution_arn != request.execution_arn:
        return _skip(f"this firing of {job.name} runs already as {earlier.execution_name}")
    if earlier is None and not job.enabled:
        return _skip(f"the one-time schedule {job.name} has run")
    expression = parse_expression(job.expression, job.timezone, now=job.created_at)
    channel, thread = job.slack_channel, None
    if channel and earlier is None:
        from autodev.slack import notify

        with best_effort("scheduled_run_announcement", log, schedule=job.name):
            thread = notify.announce_scheduled_run(
                channel, job.template, job.name, expression.describe(), job.created_by
            )
    started, start_input = workflows.record_execution(
        job.template,
        job.input,
        job.created_by,
        execution_arn=request.execution_arn,
        execution_name=request.execution_name,
        client_key=key,
        actor=f"schedule:{job.name}",
        audit_detail={
            "scheduled_job_id": job.id,
            "schedule": job.name,
            "scheduled_by": job.created_by,
            "scheduled_time": request.scheduled_time,
        },
        slack_channel=channel if thread else None,
        slack_thread_ts=thread,
    )
    if not started.created:
        if thread and channel:  # another call recorded it a moment ago
            with best_effort("scheduled_run_announcement", log, schedule=job.name):
                from autodev.slack import notify

                notify.withdraw(channel, thread)
        if started.execution_arn != request.execution_arn:
            return _skip(f"this firing of {job.name} runs already as {started.execution_name}")
        return {"run": True, **start_input}
    if thread and channel:
        from autodev.slack import threads

        threads.remember(channel, thread, started.id, f"schedule:{job.name}")
    with connection() as conn:
        store.mark_run(conn, job.id, started.id, one_time=expression.one_time)
    log.info(
        "scheduled run registered",
        extra={
            "schedule": job.name,
            "workflow_id": started.id,
            "execution": started.execution_name,
        },
    )
    return {"run": True, **start_input}
