"""Every setting of autodev, typed, with the spec's defaults.

Settings come from the environment only. A bad value stops start-up with one line that names
the variable and the form it expects; secrets are held as ``SecretStr`` so that neither the
message nor a ``repr`` can leak them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

# Defined with the other errors (light to import); config is where callers look for it.
from autodev.errors import ConfigError as ConfigError


class ModelProvider(StrEnum):
    ANTHROPIC = "anthropic"
    BEDROCK = "bedrock"
    SCRIPTED = "scripted"


# The form each setting expects, used in the one-line error message.
_EXPECTED: dict[str, str] = {
    "orchestrator_max_instances": "a whole number from 1 to 1000",
    "orchestrator_timeout": "a whole number of milliseconds above 0",
    "orchestrator_idle_timeout": "a whole number of milliseconds above 0",
    "conversation_max_tokens": "a whole number above 0",
    "conversation_summary_threshold": "a whole number above 0",
    "alert_error_rate_threshold": "a number from 0 to 1",
    "alert_cooldown": "a whole number of milliseconds, 0 or more",
    "autodev_model_provider": "one of anthropic, bedrock, scripted",
    "task_max_attempts": "a whole number from 1 to 100",
    "task_budget_usd": "a number of US dollars above 0",
    "workflow_budget_usd": "a number of US dollars above 0",
    "workflow_max_budget_usd": "a number of US dollars above 0",
    "db_pool_max_size": "a whole number from 1 to 100",
    "db_prepared_statements": "true or false",
    "approvers": "a comma-separated list of Slack user ids, IAM principal ARNs or cli:<login>",
    "admins": "a comma-separated list of Slack user ids, IAM principal ARNs or cli:<login>",
    "workflow_heartbeat_seconds": "a whole number of seconds above 0",
    "approval_timeout_seconds": "a whole number of seconds above 0",
    "workflow_timeout_seconds": "a whole number of seconds above 0",
    "bugfix_max_fix_attempts": "a whole number from 1 to 20",
    "workflow_map_concurrency": "a whole number from 1 to 40",
    "webhook_allowed_hosts": "a comma-separated list of host names",
    "orchestrator_lease_seconds": "a number of seconds from 1 to 3600",
    "task_retry_backoff_ms": "a whole number of milliseconds from 0 to 300000",
    "autodev_worker_module": "a Python module name, like autodev.local.echo",
    "autodev_scripted_model_url": "an http:// or https:// URL",
    "autodev_worker_launcher": "one of ecs, local",
    "autodev_ecs_subnets": "a comma-separated list of subnet ids",
    "autodev_ecs_security_groups": "a comma-separated list of security group ids",
    "autodev_git_host_api_url": "an http:// or https:// URL",
    "autodev_repo_max_mb": "a whole number of megabytes from 1 to 100000",
    "autodev_git_email": "an e-mail address",
    "autodev_instructions_file": (
        "a file path relative to the repository, outside .claude/ and without '..'"
    ),
    "autodev_agent_user": "a user name, a uid, or a range of uids FIRST-LAST",
    "alert_error_rate_window": "a whole number of milliseconds from 60000",
    "alert_error_rate_min_tasks": "a whole number from 1 to 100000",
    "alert_queue_age": "a whole number of milliseconds above 0",
    "metrics_retention_days": "a whole number of days from 1 to 3650",
    "metrics_hourly_retention_days": "a whole number of days from 1 to 36500",
    "autodev_schedule_timezone": "an IANA time zone, like UTC or Europe/Paris",
    "autodev_schedule_group": "an EventBridge Scheduler group name",
    "autodev_scheduler_role_arn": "an IAM role ARN",
}

SECRET_FIELDS = frozenset(
    {"database_url", "slack_bot_token", "slack_signing_secret", "anthropic_api_key"}
)

# Given as one comma-separated string (``Settings._split_commas``).
CommaList = tuple[str, ...]


class Settings(BaseModel):
    """The platform's settings, read from environment variables of the same name, in any
    case (``load_settings``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # --- the spec's tuning settings (times in milliseconds, as the spec has them) ---
    orchestrator_max_instances: int = Field(default=5, ge=1, le=1000)
    orchestrator_timeout: int = Field(default=1_800_000, gt=0)
    conversation_max_tokens: int = Field(default=100_000, gt=0)
    conversation_summary_threshold: int = Field(default=50_000, gt=0)
    alert_error_rate_threshold: float = Field(default=0.1, ge=0, le=1)
    alert_cooldown: int = Field(default=300_000, ge=0)
    alert_channel: str = "#dev-alerts"
    # --- alerts beyond the spec: the error rate's window and the least sample it needs, and
    # how long the oldest queued task may wait before it is an alert ---
    alert_error_rate_window: int = Field(default=3_600_000, ge=60_000)
    alert_error_rate_min_tasks: int = Field(default=5, ge=1, le=100_000)
    alert_queue_age: int = Field(default=900_000, gt=0)
    # --- metric retention: raw rows older than this are rolled up into hourly figures ---
    metrics_retention_days: int = Field(default=90, ge=1, le=3650)
    metrics_hourly_retention_days: int = Field(default=730, ge=1, le=36_500)

    # --- connections and credentials ---
    database_url: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    anthropic_api_key: SecretStr | None = None

    # --- the model Claude Code talks to ---
    autodev_model_provider: ModelProvider | None = None
    autodev_model: str = "claude-sonnet-4-6"
    # The scripted provider's Messages API endpoint (the local stack runs one and sets it).
    autodev_scripted_model_url: str | None = Field(default=None, pattern=r"^https?://\S+$")

    # --- conversations (autodev.conversations) ---
    # The small, fast model that summarises long conversations and extracts memories.
    autodev_summary_model: str = "claude-haiku-4-5"
    # The repository's instructions for agents, read into each agent step's system prompt.
    autodev_instructions_file: str = "CLAUDE.md"
    # Instructions for every agent step of the organisation, before the repository's own.
    autodev_org_prompt: str | None = None

    # --- where the local stack keeps its state (embedded Postgres, logs, workspaces) ---
    autodev_state_dir: Path = Path(".autodev")

    # --- orchestrator details beyond the spec ---
    orchestrator_idle_timeout: int = Field(default=30_000, gt=0)
    task_max_attempts: int = Field(default=3, ge=1, le=100)
    task_budget_usd: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    workflow_budget_usd: float = Field(default=25.0, gt=0, allow_inf_nan=False)
    # The most a workflow may be given (--budget, Slack's budget=): bounded and finite.
    workflow_max_budget_usd: float = Field(default=100.0, gt=0, allow_inf_nan=False)
    # First retry delay of a failed task; doubles each attempt (capped at 5 min), full jitter.
    task_retry_backoff_ms: int = Field(default=2_000, ge=0, le=300_000)
    # A worker's lease on its task; renewed every third of it while the task runs.
    orchestrator_lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    # The module the local process launcher runs as a worker (``python -m``); unset: the
    # Claude Code worker (functions/claude_worker/main.py). The local stack's echo worker,
    # which completes tasks without Claude Code, is ``autodev.local.echo``.
    autodev_worker_module: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
    )
    # How the scaler starts workers: 'ecs' (RunTask) or 'local' processes; unset: ecs when
    # AUTODEV_ECS_CLUSTER is set, else local.
    autodev_worker_launcher: Literal["ecs", "local"] | None = None
    autodev_ecs_cluster: str | None = None
    autodev_ecs_task_definition: str | None = None
    autodev_ecs_container: str = "worker"
    autodev_ecs_subnets: CommaList = ()
    autodev_ecs_security_groups: CommaList = ()
    # The default repository when none is registered as default: a git repository (an https
    # URL, or a local repository's path) is used as the repository "default"; a directory
    # that is no git repository is copied into each workspace, as is examples/ when unset.
    autodev_sfdx_repo: str | None = None
    # --- repositories (autodev.repos) ---
    # The biggest checkout a worker makes of a repository; a bigger one is refused.
    autodev_repo_max_mb: int = Field(default=1024, ge=1, le=100_000)
    # Where every call to a repository host's API goes instead of the host's own (the local
    # stack points it at its stand-in); unset: each repository's host.
    autodev_git_host_api_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    # A repository's credentials secret must be named with this prefix (infra sets it to the
    # prefix the workers may read); unset: any secret ARN is accepted.
    autodev_repo_secret_prefix: str | None = None
    # The e-mail address of autodev's commits (the author's name is always autodev).
    autodev_git_email: str = Field(default="autodev@localhost", pattern=r"^[^@\s<>]+@[^@\s<>]+$")
    # Pull requests are opened as drafts unless this is false.
    autodev_pull_request_draft: bool = True
    # --- Salesforce tool steps (autodev.salesforce) ---
    # The Salesforce CLI the worker's deterministic steps run (a name on PATH or a path; the
    # local stack points it at its stand-in).
    autodev_sf_cli: str = Field(default="sf", min_length=1)
    # An org's SFDX auth URL secret must be named with this prefix (infra sets it to the prefix
    # the workers may read); unset: any secret ARN is accepted.
    autodev_org_secret_prefix: str | None = None
    # Code Analyzer's time limit in a step, in seconds.
    autodev_analyzer_timeout_seconds: int = Field(default=600, ge=10, le=3600)
    # Bedrock mode: a role that may only invoke models, assumed for each agent session.
    autodev_bedrock_role_arn: str | None = None
    # Who Claude Code runs as when the worker runs as root (autodev.orchestrator.containment):
    # a user name, a uid, or a range of uids FIRST-LAST, of which each worker takes a free one.
    # Numbers far above ordinary accounts, so that no account of the machine is reused.
    autodev_agent_user: str = Field(
        default="2000000000-2000000999", pattern=r"^([A-Za-z_][A-Za-z0-9_.-]*|\d+|\d+-\d+)$"
    )
    # Where task workspaces are made (unset: AUTODEV_STATE_DIR/workspaces); an agent running as
    # a user of its own must be able to pass through its parent directories.
    autodev_workspace_dir: Path | None = None

    # --- database pool: small, because each Lambda instance holds its own ---
    db_pool_max_size: int = Field(default=2, ge=1, le=100)
    # Prepared statements on pooled connections; infra turns them off behind RDS Proxy, which
    # pins a session that prepares statements (see autodev.db.pool).
    db_prepared_statements: bool = True

    # --- workflows (Step Functions); the numbers fill the ASL files' ${...} substitutions ---
    # Agent steps must heartbeat at least this often (worker, or the orchestrator for queued
    # tasks); below ORCHESTRATOR_TIMEOUT.
    workflow_heartbeat_seconds: int = Field(default=600, ge=1)
    approval_timeout_seconds: int = Field(default=86_400, ge=1)
    # A whole execution's limit, a safety net above the steps' own timeouts.
    workflow_timeout_seconds: int = Field(default=172_800, ge=1)
    # bug-fix: the fix step runs at most this many times before the workflow fails.
    bugfix_max_fix_attempts: int = Field(default=3, ge=1, le=20)
    # full-analysis-improvement: fixes implemented at the same time.
    workflow_map_concurrency: int = Field(default=3, ge=1, le=40)
    # ARN of the state machines without the template name; unset: derived from STS and region.
    autodev_state_machine_arn_prefix: str | None = None
    # Where a person sees an execution: this URL with the execution's name appended (the
    # local stack sets its Slack page's). Unset: the AWS console, unless AWS_ENDPOINT_URL
    # points at a stand-in endpoint, which has no console.
    autodev_execution_page_url: str | None = Field(default=None, pattern=r"^https?://\S+$")

    # --- scheduled runs (EventBridge Scheduler; the local stack sets both names) ---
    autodev_schedule_group: str | None = Field(default=None, pattern=r"^[0-9A-Za-z_.-]{1,64}$")
    autodev_scheduler_role_arn: str | None = Field(default=None, pattern=r"^arn:[^:]+:iam::")
    # The time zone of a schedule that names none.
    autodev_schedule_timezone: str = "UTC"

    # --- who may do what (autodev.access); in AWS the CDK app's settings per environment ---
    # Approve deployments: these identities, or members of the Slack user group.
    approvers: CommaList = ()
    approver_group: str | None = None
    # Cancel any workflow (its requester and the approvers may cancel it too).
    admins: CommaList = ()
    # The CLI in AWS applies the access settings of this deployed function (its environment),
    # never its own; unset: autodev-<AUTODEV_ENV>-slack-worker.
    autodev_access_function: str | None = None
    webhook_allowed_hosts: CommaList = ()

    @field_validator(
        "approvers",
        "admins",
        "webhook_allowed_hosts",
        "autodev_ecs_subnets",
        "autodev_ecs_security_groups",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("autodev_instructions_file")
    @classmethod
    def _inside_the_repository(cls, value: str) -> str:
        # Only the instructions file is read from a repository, never its Claude Code
        # settings or hooks (.claude/), and never a file outside it.
        parts = value.replace("\\", "/").split("/")
        if (
            not value.strip()
            or value.startswith("/")
            or any(part in ("", ".", "..") for part in parts)
            or parts[0] == ".claude"
        ):
            raise ValueError("not a repository file outside .claude/")
        return value

    @field_validator("autodev_schedule_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a known time zone") from None
        return value

    @property
    def model_provider(self) -> ModelProvider:
        """The provider in force: the explicit setting, else anthropic when a key is set."""
        if self.autodev_model_provider is not None:
            return self.autodev_model_provider
        return ModelProvider.ANTHROPIC if self.anthropic_api_key else ModelProvider.SCRIPTED

    @property
    def workspace_root(self) -> Path:
        """The directory that holds every task's workspace."""
        return (self.autodev_workspace_dir or self.autodev_state_dir / "workspaces").resolve()

    @property
    def orchestrator_timeout_seconds(self) -> int:
        return max(1, self.orchestrator_timeout // 1000)

    @property
    def alert_cooldown_seconds(self) -> float:
        return self.alert_cooldown / 1000

    @property
    def alert_error_rate_window_seconds(self) -> float:
        return self.alert_error_rate_window / 1000

    @property
    def alert_queue_age_seconds(self) -> float:
        return self.alert_queue_age / 1000


def with_secrets_from_arns(settings: Settings, env: Mapping[str, str] | None = None) -> Settings:
    """Fill unset secrets from Secrets Manager where ``<NAME>_ARN`` names one (in AWS).

    infra/ passes secrets by ARN, never by value; a process that needs a secret's value (the
    worker needs the Anthropic key to hand to Claude Code) reads it here, with Powertools
    Parameters, into its settings only — never into the process environment.
    """
    env = os.environ if env is None else env
    found: dict[str, SecretStr] = {}
    for name in sorted(SECRET_FIELDS - {"database_url"}):
        arn = env.get(f"{name.upper()}_ARN")
        if arn and getattr(settings, name) is None:
            from aws_lambda_powertools.utilities import parameters

            found[name] = SecretStr(str(parameters.get_secret(arn)))
    return settings.model_copy(update=found) if found else settings


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "?"
    expected = _EXPECTED.get(field, first["msg"])
    if field in SECRET_FIELDS:
        # Never echo what was given for a secret, not even in an error.
        return f"{field.upper()} is not valid: expected {expected}"
    given = first.get("input")
    shown = f" (got {given!r})" if isinstance(given, str | int | float) else ""
    return f"{field.upper()} is not valid{shown}: expected {expected}"


def _from_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``env`` that name a setting, by the setting's name. Names match in any
    case, as they did with pydantic-settings, which this replaces: reading the environment
    was all it did here, and its import was 15 ms of a worker's 0.29 s start-up (issue 18).
    pydantic itself turns each string into its field's type, as it does an event's."""
    fields = {name.upper(): name for name in Settings.model_fields}
    return {fields[name.upper()]: value for name, value in env.items() if name.upper() in fields}


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment, ``overrides`` taking precedence; raises
    ConfigError with a one-line message on a bad value."""
    try:
        return Settings.model_validate({**_from_environment(os.environ), **overrides})
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call ``get_settings.cache_clear()``."""
    return load_settings()


def settings_or_exit() -> Settings:
    """For entry points: the settings, or exit with the one-line message on stderr."""
    try:
        return get_settings()
    except ConfigError as error:
        print(f"autodev: {error}", file=sys.stderr)
        raise SystemExit(2) from None
