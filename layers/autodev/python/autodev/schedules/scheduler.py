"""EventBridge Scheduler: one schedule per scheduled job, in ``AUTODEV_SCHEDULE_GROUP``.

A schedule's target is the template's state machine (``states:StartExecution``, run as
``AUTODEV_SCHEDULER_ROLE_ARN``, a role that may only start autodev's state machines) with the
input ``{"scheduled_job_id", "scheduled_time"}``; the state machine's first states register
the run (see ``autodev.schedules.runs``). A one-time ``at(...)`` schedule deletes itself
after it fires. The local stack's ticker fires the very same schedules from moto.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from autodev.aws import client
from autodev.config import ConfigError, get_settings
from autodev.errors import AutodevError
from autodev.schedules.expressions import ScheduleExpression

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
# Scheduler retries a start that failed (throttled) for up to an hour, at most three times.
_RETRY_POLICY = {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}


class SchedulerError(AutodevError):
    """EventBridge Scheduler refused or could not be reached; the message says why."""


def group_name() -> str:
    group = get_settings().autodev_schedule_group
    if not group:
        raise ConfigError(
            "AUTODEV_SCHEDULE_GROUP is not set: no EventBridge Scheduler group for schedules"
        )
    return group


def _role_arn() -> str:
    role = get_settings().autodev_scheduler_role_arn
    if not role:
        raise ConfigError(
            "AUTODEV_SCHEDULER_ROLE_ARN is not set: no role for schedules to start workflows as"
        )
    return role


def target_input(job_id: str) -> dict[str, str]:
    """What the state machine is started with; Scheduler fills in the scheduled time."""
    return {"scheduled_job_id": job_id, "scheduled_time": SCHEDULED_TIME}


def _explain(error: Exception, doing: str) -> SchedulerError:
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        code = str(detail.get("Code", "error"))
        message = str(detail.get("Message", "")).strip()
        return SchedulerError(
            f"could not {doing}: EventBridge Scheduler answered {code}"
            + (f": {message}" if message else "")
        )
    return SchedulerError(f"could not {doing}: EventBridge Scheduler is unreachable ({error})")


def create(
    *,
    name: str,
    job_id: str,
    state_machine_arn: str,
    expression: ScheduleExpression,
    description: str,
) -> str:
    """Create the schedule; returns its ARN."""
    request: dict[str, Any] = {
        "Name": name,
        "GroupName": group_name(),
        "ScheduleExpression": expression.text,
        "ScheduleExpressionTimezone": expression.timezone,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Description": description[:512],
        "ActionAfterCompletion": "DELETE" if expression.one_time else "NONE",
        "Target": {
            "Arn": state_machine_arn,
            "RoleArn": _role_arn(),
            "Input": json.dumps(target_input(job_id)),
            "RetryPolicy": _RETRY_POLICY,
        },
    }
    try:
        answer = client("scheduler").create_schedule(**request)
    except (ClientError, BotoCoreError) as error:
        raise _explain(error, f"create the schedule {name}") from None
    return str(answer["ScheduleArn"])


def delete(name: str) -> bool:
    """Delete the schedule; False when it was gone already (an ``at`` schedule that fired)."""
    try:
        client("scheduler").delete_schedule(Name=name, GroupName=group_name())
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) == "ResourceNotFoundException":
            return False
        raise _explain(error, f"delete the schedule {name}") from None
    except BotoCoreError as error:
        raise _explain(error, f"delete the schedule {name}") from None
    return True


def exists(name: str) -> bool:
    try:
        client("scheduler").get_schedule(Name=name, GroupName=group_name())
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) == "ResourceNotFoundException":
            return False
        raise _explain(error, f"read the schedule {name}") from None
    except BotoCoreError as error:
        raise _explain(error, f"read the schedule {name}") from None
    return True
