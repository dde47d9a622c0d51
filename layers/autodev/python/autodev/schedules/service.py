"""Scheduling workflows: create, list and remove schedules (``/workflow schedule``, ...).

A schedule is a ``scheduled_jobs`` row and an EventBridge Scheduler schedule of the same name
(``<template>-<8 hex of its id>``). Everything is checked first (template, input against the
template's schema, expression, time zone, where schedules go): a bad request changes nothing.
The row is written in the transaction that creates the schedule, so a schedule Scheduler
refused leaves no row, and the audit trail records both who created and who removed it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from autodev import audit
from autodev.config import get_settings
from autodev.db import connection
from autodev.observability import best_effort, child_logger
from autodev.schedules import scheduler, store
from autodev.schedules.expressions import ScheduleExpression, parse_expression
from autodev.schedules.store import ScheduledJob

log = child_logger(__name__)


@dataclass(frozen=True)
class ScheduleRequest:
    template: str
    expression: str
    input: Any
    created_by: str
    timezone: str | None = None  # default AUTODEV_SCHEDULE_TIMEZONE
    slack_channel: str | None = None  # where runs are announced and their results posted


@dataclass(frozen=True)
class Scheduled:
    job: ScheduledJob
    expression: ScheduleExpression

    def next_run(self) -> datetime | None:
        """When it fires next (UTC), or None: a one-time schedule that has run."""
        if not self.job.enabled:
            return None
        return self.expression.next_after(datetime.now(UTC), anchor=self.job.created_at)


def schedule_workflow(request: ScheduleRequest) -> Scheduled:
    """Create the schedule; NotFound for an unknown template, InvalidInput (InvalidSchedule)
    for bad input or a bad expression, ConfigError when no schedule group is configured."""
    from autodev.errors import InvalidInput
    from autodev.workflows import get_template, sfn

    if not request.created_by.strip():
        raise InvalidInput("a schedule needs the id of who created it")
    info = get_template(request.template)
    data = info.validate_input(request.input if request.input is not None else {})
    timezone = request.timezone or get_settings().autodev_schedule_timezone
    expression = parse_expression(request.expression, timezone)
    scheduler.group_name()  # configured, before anything is created
    machine = sfn.state_machine_arn(info.name)
    job_id, short = store.new_id()
    name = f"{info.name}-{short}"
    created: str | None = None
    try:
        with connection() as conn:
            job = store.insert(
                conn,
                job_id=job_id,
                name=name,
                template=info.name,
                expression=expression.text,
                timezone=expression.timezone,
                workflow_input=data,
                created_by=request.created_by,
                slack_channel=request.slack_channel,
            )
            created = scheduler.create(
                name=name,
                job_id=job_id,
                state_machine_arn=machine,
                expression=expression,
                description=f"autodev {info.name}, scheduled by {request.created_by}",
            )
            store.set_arn(conn, job_id, created)
            audit.record(
                request.created_by,
                "schedule.created",
                job_id,
                {
                    "name": name,
                    "template": info.name,
                    "expression": expression.text,
                    "timezone": expression.timezone,
                    "slack_channel": request.slack_channel,
                    "input": data,
                },
                conn=conn,
            )
    except BaseException:
        if created is not None:  # the row did not commit: the schedule must not outlive it
            with best_effort("schedule_cleanup", log, schedule=name):
                scheduler.delete(name)
        raise
    return Scheduled(dataclasses.replace(job, schedule_arn=created), expression)


def list_schedules() -> list[Scheduled]:
    found = []
    for job in store.list_jobs():
        expression = _expression_of(job)
        if expression is not None:
            found.append(Scheduled(job, expression))
    return found


def _expression_of(job: ScheduledJob) -> ScheduleExpression | None:
    from autodev.schedules.expressions import InvalidSchedule

    # As of its creation: a one-time schedule that has run lies in the past now.
    try:
        return parse_expression(job.expression, job.timezone, now=job.created_at)
    except InvalidSchedule:
        log.warning("schedule %s has an expression that no longer parses", job.name)
        return None


def unschedule(ref: str, by: str) -> ScheduledJob:
    """Remove the schedule (its id, name or short id) and its row. Its creator may, and so may
    an approver (``APPROVERS``, ``APPROVER_GROUP``); NotAllowed for anyone else."""
    from autodev.workflows import NotAllowed, is_allowed_approver

    job = store.find(ref)
    if by != job.created_by and not is_allowed_approver(by):
        raise NotAllowed(
            f"only {job.created_by} (who created it) or an approver may remove {job.name}"
        )
    gone_already = not scheduler.delete(job.name)
    with connection() as conn:
        store.delete(conn, job.id)
        audit.record(
            by,
            "schedule.deleted",
            job.id,
            {"name": job.name, "template": job.template, "schedule_was_gone": gone_already},
            conn=conn,
        )
    return job
