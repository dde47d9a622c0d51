"""The model providers Claude Code can talk to, and the scrubbed environment it runs in.

Claude Code runs with an environment built from nothing: the few variables a process needs
(``PATH``, ``HOME``, ``LANG``), switches that keep the CLI quiet, and what the chosen provider
needs to reach the model. Nothing else of the worker's environment (database URL, Slack
tokens, AWS credentials of the worker's role) reaches the agent or the commands it runs.

- ``anthropic``: ``ANTHROPIC_API_KEY`` (and ``ANTHROPIC_BASE_URL`` when one is configured,
  e.g. a gateway).
- ``bedrock``: ``CLAUDE_CODE_USE_BEDROCK=1``, the region, and credentials for Bedrock only:
  short-lived credentials of ``AUTODEV_BEDROCK_ROLE_ARN`` when it is set (a role that may only
  invoke models), else the container credentials endpoint of the task role.
- ``scripted``: ``ANTHROPIC_BASE_URL`` is ``AUTODEV_SCRIPTED_MODEL_URL`` (a scripted Messages
  API server; the local stack runs one) and the key is a placeholder. Everything that runs on
  it says so (``SCRIPTED_NOTICE``).

Every request Claude Code makes carries ``X-Autodev-Task-Id`` (through
``ANTHROPIC_CUSTOM_HEADERS``): harmless to a real provider, useful to a gateway for cost
attribution, and how the scripted server knows which task's session to play. The scripted
provider also gets ``X-Autodev-Workspace``, the directory the session works in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autodev.config import ModelProvider, Settings
from autodev.errors import AutodevError

# Keep the CLI from phoning home or updating itself: a worker only talks to its model.
QUIET_CLI = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
}

SCRIPTED_API_KEY = "scripted-model-no-key"
# Every answer of the scripted model starts with this; nothing may pass it off as a model's.
SCRIPTED_NOTICE = "[scripted model]"
SCRIPTED_MODEL_URL_ENV = "AUTODEV_SCRIPTED_MODEL_URL"
TASK_ID_HEADER = "X-Autodev-Task-Id"
WORKSPACE_HEADER = "X-Autodev-Workspace"

# Where a process finds programs when the worker's own PATH is unset.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The container-credentials variables the AWS SDKs read inside ECS tasks.
_CONTAINER_CREDENTIALS = (
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)


class ProviderUnavailable(AutodevError):
    """The configured model provider cannot be used (a key or a setting is missing)."""


def describe(settings: Settings) -> str:
    """One line that says which model answers, e.g. for the demo's banner."""
    provider = settings.model_provider
    if provider is ModelProvider.SCRIPTED:
        return (
            f"model: SCRIPTED (autodev's scripted Messages API server replays a fixed session; "
            f"no real model answers; model name {settings.autodev_model})"
        )
    return f"model: {settings.autodev_model} via {provider.value}"


def agent_environment(
    settings: Settings,
    *,
    home: Path,
    parent_env: Mapping[str, str],
    bedrock_credentials: Mapping[str, str] | None = None,
    task_id: str | None = None,
    workspace: Path | None = None,
) -> dict[str, str]:
    """The complete environment for the Claude Code process; nothing else is inherited."""
    env: dict[str, str] = {
        "PATH": parent_env.get("PATH") or DEFAULT_PATH,
        "HOME": str(home),
        "LANG": parent_env.get("LANG") or "C.UTF-8",
        "TMPDIR": str(home / "tmp"),
        **QUIET_CLI,
    }
    headers: dict[str, str] = {TASK_ID_HEADER: task_id} if task_id else {}
    provider = settings.model_provider
    if provider is ModelProvider.SCRIPTED:
        if not settings.autodev_scripted_model_url:
            raise ProviderUnavailable(
                f"AUTODEV_MODEL_PROVIDER is scripted but {SCRIPTED_MODEL_URL_ENV} is not set "
                "(the local stack runs a scripted model server and sets it)"
            )
        env["ANTHROPIC_BASE_URL"] = settings.autodev_scripted_model_url
        env["ANTHROPIC_API_KEY"] = SCRIPTED_API_KEY
        if workspace is not None:
            headers[WORKSPACE_HEADER] = str(workspace)
    elif provider is ModelProvider.ANTHROPIC:
        if settings.anthropic_api_key is None:
            raise ProviderUnavailable(
                "AUTODEV_MODEL_PROVIDER is anthropic but ANTHROPIC_API_KEY is not set"
            )
        env["ANTHROPIC_API_KEY"] = settings.anthropic_api_key.get_secret_value()
        if parent_env.get("ANTHROPIC_BASE_URL"):
            env["ANTHROPIC_BASE_URL"] = parent_env["ANTHROPIC_BASE_URL"]
    else:
        env.update(_bedrock_environment(parent_env, bedrock_credentials))
    if headers:
        # One "Name: value" per line, as Claude Code reads ANTHROPIC_CUSTOM_HEADERS.
        env["ANTHROPIC_CUSTOM_HEADERS"] = "\n".join(f"{k}: {v}" for k, v in headers.items())
    return env


def _bedrock_environment(
    parent_env: Mapping[str, str], credentials: Mapping[str, str] | None
) -> dict[str, str]:
    region = parent_env.get("AWS_REGION") or parent_env.get("AWS_DEFAULT_REGION")
    if not region:
        raise ProviderUnavailable("AUTODEV_MODEL_PROVIDER is bedrock but AWS_REGION is not set")
    env = {"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": region}
    if credentials:
        allowed = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
        env.update({key: credentials[key] for key in allowed if credentials.get(key)})
        return env
    container = {key: parent_env[key] for key in _CONTAINER_CREDENTIALS if parent_env.get(key)}
    if not container:
        raise ProviderUnavailable(
            "AUTODEV_MODEL_PROVIDER is bedrock but there are no credentials for it: set "
            "AUTODEV_BEDROCK_ROLE_ARN or run the worker as an ECS task with a task role"
        )
    env.update(container)
    return env


def assume_bedrock_role(role_arn: str, session_name: str) -> dict[str, str]:
    """Short-lived credentials of the Bedrock-only role, for one agent session."""
    from autodev.aws import client

    response: Any = client("sts").assume_role(
        RoleArn=role_arn, RoleSessionName=session_name[:64], DurationSeconds=3600
    )
    creds = response["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }
