"""Small helpers shared by the constructs."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.settings import EnvSettings

_RETENTION_BY_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
}


def log_retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch retention that keeps logs at least ``days`` days."""
    for allowed in sorted(_RETENTION_BY_DAYS):
        if allowed >= days:
            return _RETENTION_BY_DAYS[allowed]
    return logs.RetentionDays.TWO_YEARS


def data_removal(settings: EnvSettings) -> RemovalPolicy:
    """Keep logs, secrets and layers in prod; clean them up with a dev stack."""
    return RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY


def log_group(
    scope: Construct, id: str, settings: EnvSettings, name: str | None = None
) -> logs.LogGroup:
    """A log group with the environment's retention, kept like the other data in prod."""
    return logs.LogGroup(
        scope,
        id,
        log_group_name=name,
        retention=log_retention(settings.log_retention_days),
        removal_policy=data_removal(settings),
    )


# Answering a task token: the worker and the functions granted TASK_CALLBACKS.
TASK_CALLBACK_ACTIONS = (
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "states:SendTaskHeartbeat",
)


# autodev.observability's names; the alarms in monitoring.py watch these dimensions.
SERVICE_NAME = "autodev"
METRICS_NAMESPACE = "autodev"


def observability_environment(settings: EnvSettings) -> dict[str, str]:
    """Where autodev's logs and metrics say they come from: one service, one namespace, and
    the environment as a metric dimension (two stacks in one account stay apart)."""
    return {
        "AUTODEV_ENV": settings.env_name,
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }


def runtime_environment(settings: EnvSettings, event_bus_name: str) -> dict[str, str]:
    """Settings the autodev package reads alike in the Lambda functions and the worker."""
    return {
        **observability_environment(settings),
        "AUTODEV_EVENT_BUS": event_bus_name,
        "AUTODEV_MODEL_PROVIDER": settings.model_provider,
        "AUTODEV_MODEL": settings.model,
        "ORCHESTRATOR_MAX_INSTANCES": str(settings.orchestrator_max_instances),
        "ORCHESTRATOR_TIMEOUT": str(settings.task_timeout_seconds * 1000),
        "WORKFLOW_HEARTBEAT_SECONDS": str(settings.heartbeat_seconds),
    }
