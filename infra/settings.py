"""Per-environment settings of the CDK app, chosen with ``-c env=dev|prod``.

Every value has a default per environment; any of them can be overridden from the CDK context
with its camelCase name (``-c natGateways=2``, or a ``"context"`` entry in cdk.json), so an
operator never edits code to size an environment. Unknown environments and malformed values
stop the synth with one line that names the setting.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Protocol


class ContextReader(Protocol):
    def try_get_context(self, key: str) -> Any: ...


class SettingsError(ValueError):
    """A context value cannot be used; the message names it."""


@dataclass(frozen=True)
class EnvSettings:
    env_name: str
    # --- network ---
    nat_gateways: int
    max_azs: int
    # --- database ---
    db_instance_class: str  # e.g. "t4g.micro" (burstable Graviton)
    db_allocated_storage_gb: int
    db_max_allocated_storage_gb: int
    db_multi_az: bool
    db_backup_retention_days: int
    db_deletion_protection: bool
    db_rotation_days: int
    # --- removal: prod keeps data (snapshot/retain), dev cleans up ---
    retain_data: bool
    # --- logs ---
    log_retention_days: int
    # Step Functions execution data (inputs/outputs) in the logs: off by default, since task
    # payloads can carry prompts and code that should not sit in CloudWatch.
    sfn_log_execution_data: bool
    # --- API Gateway ---
    api_rate_limit: int  # steady requests per second for the stage
    api_burst_limit: int
    max_request_body_bytes: int  # enforced by the WAF web ACL (API Gateway has no setting)
    # --- Lambda ---
    reserved_concurrency: bool  # off for new accounts whose concurrency quota is only 10
    # --- workers ---
    worker_cpu: int
    worker_memory_mib: int
    # arm64 (Graviton, cheaper) or x86_64; building an arm64 image on an x86 machine needs
    # Docker's QEMU emulation (docker buildx), so x86_64 is offered for such deploy hosts.
    worker_architecture: str
    orchestrator_max_instances: int
    # --- timeouts handed to the state machines (numeric ASL substitutions) ---
    task_timeout_seconds: int
    heartbeat_seconds: int
    approval_timeout_seconds: int
    workflow_timeout_seconds: int
    max_fix_attempts: int
    map_max_concurrency: int
    # --- the model ---
    model_provider: str  # anthropic | bedrock
    model: str
    # --- alarms ---
    alarm_email: str | None
    alert_channel: str
    # --- Powertools layer published by AWS (account 017000801446), by layer version ---
    powertools_layer_version: int
    # --- who may do what (autodev.access), given to the functions that decide ---
    # Comma-separated identities: Slack user ids, IAM principal ARNs (the CLI in AWS acts as
    # its caller's), an ARN ending in /* for every session of a role. None: nobody.
    approvers: str | None = None
    approver_group: str | None = None  # a Slack user group id (S...) or handle
    admins: str | None = None


_DEV: dict[str, Any] = {
    "nat_gateways": 1,
    "max_azs": 2,
    "db_instance_class": "t4g.micro",
    "db_allocated_storage_gb": 20,
    "db_max_allocated_storage_gb": 50,
    "db_multi_az": False,
    "db_backup_retention_days": 3,
    "db_deletion_protection": False,
    "db_rotation_days": 30,
    "retain_data": False,
    "log_retention_days": 14,
    "sfn_log_execution_data": False,
    "api_rate_limit": 20,
    "api_burst_limit": 40,
    "max_request_body_bytes": 16_384,
    "reserved_concurrency": True,
    "worker_cpu": 1024,
    "worker_memory_mib": 4096,
    "worker_architecture": "arm64",
    "orchestrator_max_instances": 2,
    "task_timeout_seconds": 1800,
    "heartbeat_seconds": 600,
    "approval_timeout_seconds": 86_400,
    "workflow_timeout_seconds": 172_800,
    "max_fix_attempts": 3,
    "map_max_concurrency": 3,
    "model_provider": "anthropic",
    "model": "claude-sonnet-4-6",
    "alarm_email": None,
    "alert_channel": "#dev-alerts",
    "powertools_layer_version": 38,
    "approvers": None,
    "approver_group": None,
    "admins": None,
}

_DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": _DEV,
    # prod: dev's values except where it needs more capacity, more safety or longer waits.
    "prod": {
        **_DEV,
        "nat_gateways": 2,
        "db_instance_class": "t4g.medium",
        "db_allocated_storage_gb": 50,
        "db_max_allocated_storage_gb": 200,
        "db_multi_az": True,
        "db_backup_retention_days": 14,
        "db_deletion_protection": True,
        "retain_data": True,
        "log_retention_days": 90,
        "api_rate_limit": 50,
        "api_burst_limit": 100,
        "worker_cpu": 2048,
        "worker_memory_mib": 8192,
        "orchestrator_max_instances": 5,
        "approval_timeout_seconds": 259_200,
        "workflow_timeout_seconds": 345_600,
    },
}

ENVIRONMENTS = tuple(_DEFAULTS)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# An identity autodev.access knows: a Slack user id, or an IAM user, role or assumed-role ARN.
_IDENTITY = re.compile(
    r"^(?:[UW][A-Z0-9]{2,}|arn:aws[a-z-]*:(?:iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/*-]+)$"
)
_GROUP = re.compile(r"^(?:S[A-Z0-9]{2,}|@?[a-z0-9][a-z0-9._-]{0,79})$")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _coerce(name: str, raw: Any, default: Any) -> Any:
    """Context values arrive as strings from ``-c`` and as JSON values from cdk.json."""
    key = _camel(name)
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in {"true", "1", "yes"}:
            return True
        if str(raw).lower() in {"false", "0", "no"}:
            return False
        raise SettingsError(f"context {key} must be true or false (got {raw!r})")
    if isinstance(default, int):
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"context {key} must be a whole number (got {raw!r})") from None
        if value < 0:
            raise SettingsError(f"context {key} must be 0 or more (got {raw!r})")
        return value
    return None if raw in (None, "") else str(raw)


def load_env_settings(context: ContextReader) -> EnvSettings:
    """The settings for the environment named by context ``env`` (default ``dev``)."""
    env_name = str(context.try_get_context("env") or "dev")
    if env_name not in _DEFAULTS:
        raise SettingsError(
            f"context env must be one of {', '.join(ENVIRONMENTS)} (got {env_name!r})"
        )
    values: dict[str, Any] = {"env_name": env_name}
    for name, default in _DEFAULTS[env_name].items():
        raw = context.try_get_context(_camel(name))
        values[name] = default if raw is None else _coerce(name, raw, default)
    settings = EnvSettings(**values)
    _validate(settings)
    return settings


def _validate(settings: EnvSettings) -> None:
    if settings.worker_architecture not in {"arm64", "x86_64"}:
        raise SettingsError("context workerArchitecture must be arm64 or x86_64")
    if settings.model_provider not in {"anthropic", "bedrock"}:
        raise SettingsError("context modelProvider must be anthropic or bedrock")
    if settings.alarm_email is not None and not _EMAIL.match(settings.alarm_email):
        raise SettingsError(
            f"context alarmEmail is not an e-mail address ({settings.alarm_email!r})"
        )
    if not 1 <= settings.max_azs <= 3 or settings.nat_gateways > settings.max_azs:
        raise SettingsError("context maxAzs must be 1-3 and natGateways at most maxAzs")
    if settings.max_request_body_bytes > 16_384:
        # WAF sees the first 16 KB of an API Gateway body by default; a larger limit would need
        # a paid inspection-size upgrade, and Slack payloads stay far below it.
        raise SettingsError("context maxRequestBodyBytes must be at most 16384")
    for name in ("max_fix_attempts", "map_max_concurrency", "heartbeat_seconds"):
        if getattr(settings, name) < 1:
            raise SettingsError(f"context {_camel(name)} must be 1 or more")
    if settings.heartbeat_seconds >= settings.task_timeout_seconds:
        raise SettingsError("context heartbeatSeconds must be below taskTimeoutSeconds")
    for name in ("approvers", "admins"):
        for identity in identities(getattr(settings, name)):
            if not _IDENTITY.match(identity):
                raise SettingsError(
                    f"context {_camel(name)} lists {identity!r}, which is neither a Slack user"
                    " id (U...) nor an IAM principal ARN"
                )
    if settings.approver_group is not None and not _GROUP.match(settings.approver_group):
        raise SettingsError(
            "context approverGroup must be a Slack user group id (S...) or handle"
            f" (got {settings.approver_group!r})"
        )


def identities(value: str | None) -> list[str]:
    """The comma-separated identities of ``approvers`` or ``admins``."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def access_environment(settings: EnvSettings) -> dict[str, str]:
    """APPROVERS, APPROVER_GROUP and ADMINS for the functions that decide who may do what
    (only those set: an unset one means nobody, as in autodev.config)."""
    values = {
        "APPROVERS": ",".join(identities(settings.approvers)),
        "APPROVER_GROUP": (settings.approver_group or "").strip(),
        "ADMINS": ",".join(identities(settings.admins)),
    }
    return {name: value for name, value in values.items() if value}


def settings_table() -> list[dict[str, Any]]:
    """Rows for the README: setting, context key, dev default, prod default."""
    return [
        {
            "setting": field.name,
            "context": _camel(field.name),
            "dev": _DEFAULTS["dev"][field.name],
            "prod": _DEFAULTS["prod"][field.name],
        }
        for field in dataclasses.fields(EnvSettings)
        if field.name != "env_name"
    ]
