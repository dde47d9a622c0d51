"""The built-in health checks: database, model API, Step Functions, orchestrator, Slack.

Each one asks its dependency once, briefly (a few seconds at most), and says what it found in
words a person can act on; no secret reaches a detail (URLs are shown without credentials).

- ``database``: a fresh connection (3 s connect timeout, not the pool, which waits 10 s for a
  server that is gone) and ``server_version``.
- ``model_api``: the provider's Messages API answers ``GET /v1/models`` with the configured
  key (reachability and authentication); Bedrock: ``ListFoundationModels``. Cached a minute.
- ``step_functions``: every template's state machine is described. Skipped without AWS (no
  Lambda/ECS runtime and no ``AWS_ENDPOINT_URL``, as on a machine without the local stack).
- ``orchestrator`` (requires the database): no running task's lease expired more than a
  rescuer pass ago (a worker that stopped without anyone noticing); the queue's depth and age
  are in the detail (an old queue has its own alert, ``queue_age``).
- ``slack``: ``auth.test`` with the bot token. Skipped without a token. Cached a minute.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from autodev.monitoring.health import Health, register_health_check

# The model and Slack answers are reused this long (the checks cost a request each).
CACHE_SECONDS = 60.0
MODEL_TIMEOUT_SECONDS = 5.0
DATABASE_CONNECT_TIMEOUT_SECONDS = 3
# A lease that expired longer ago than this was missed by the rescuer (it runs every minute).
LEASE_GRACE_SECONDS = 120.0


def register_builtins() -> None:
    register_health_check("database", database)
    register_health_check("model_api", model_api, cache_seconds=CACHE_SECONDS)
    register_health_check("step_functions", step_functions)
    register_health_check("orchestrator", orchestrator, requires="database")
    register_health_check("slack", slack, cache_seconds=CACHE_SECONDS)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def database() -> Health:
    import psycopg

    from autodev.db.pool import database_url

    try:
        with psycopg.connect(
            database_url(), connect_timeout=DATABASE_CONNECT_TIMEOUT_SECONDS
        ) as conn:
            row = conn.execute("SELECT current_setting('server_version')").fetchone()
    except psycopg.Error as error:
        return Health(False, f"unavailable: {_first_line(error)}")
    return Health(True, f"PostgreSQL {row[0]}" if row else "")


def _shown(url: str) -> str:
    """scheme://host:port of ``url``, without credentials or path."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def model_api() -> Health:
    from autodev.config import ModelProvider, get_settings, with_secrets_from_arns

    settings = get_settings()
    provider = settings.model_provider
    if provider is ModelProvider.BEDROCK:
        return _bedrock()
    if provider is ModelProvider.SCRIPTED:
        from autodev.models.providers import SCRIPTED_API_KEY

        if not settings.autodev_scripted_model_url:
            return Health.skip("scripted model: no server configured (AUTODEV_SCRIPTED_MODEL_URL)")
        return _messages_api(settings.autodev_scripted_model_url, SCRIPTED_API_KEY, "scripted")
    key = with_secrets_from_arns(settings).anthropic_api_key
    if key is None:
        return Health(False, "ANTHROPIC_API_KEY is not set")
    from autodev.models.messages_http import anthropic_base_url

    return _messages_api(anthropic_base_url(), key.get_secret_value(), "anthropic")


def _messages_api(base_url: str, key: str, label: str) -> Health:
    """``GET /v1/models?limit=1``: whether the API answers and takes the key (over plain
    HTTP: the SDK's import would be most of a health function's cold start, see
    ``models.messages_http``)."""
    import urllib3

    from autodev.models import messages_http

    where = _shown(base_url)
    try:
        answer = messages_http.call(
            "GET",
            base_url.rstrip("/") + "/v1/models?limit=1",
            key,
            retries=False,
            timeout=urllib3.Timeout(total=MODEL_TIMEOUT_SECONDS),
        )
    except urllib3.exceptions.HTTPError as error:
        # urllib3 makes a refused or failed connection (NewConnectionError) a TimeoutError too.
        timed_out = isinstance(error, urllib3.exceptions.TimeoutError)
        if timed_out and not isinstance(error, urllib3.exceptions.NewConnectionError):
            return Health(
                False, f"{label}: no answer from {where} within {MODEL_TIMEOUT_SECONDS:g} s"
            )
        return Health(False, f"{label}: {where} is unreachable ({_first_line(error)})")
    if answer.status in (401, 403):
        return Health(False, f"{label}: {where} refused the API key ({answer.status})")
    if answer.status >= 500:
        return Health(False, f"{label}: {where} answered {answer.status}")
    # Rate limited or a path it does not serve: it answered, and took the key.
    return Health(True, f"{label}: {where} answered {answer.status}")


def _bedrock() -> Health:
    from botocore.exceptions import BotoCoreError, ClientError

    from autodev.aws import probe_client, region

    try:
        found = probe_client("bedrock").list_foundation_models(byProvider="Anthropic")
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", "error"))
        return Health(False, f"bedrock ({region()}) answered {code}")
    except BotoCoreError as error:
        return Health(False, f"bedrock ({region()}) is unreachable ({_first_line(error)})")
    models = len(found.get("modelSummaries", []))
    return Health(True, f"bedrock ({region()}): {models} Anthropic models")


def _aws_reachable() -> bool:
    from autodev.runtime import in_aws

    return in_aws() or bool(os.environ.get("AWS_ENDPOINT_URL"))


def step_functions() -> Health:
    from botocore.exceptions import BotoCoreError, ClientError

    from autodev.aws import probe_client
    from autodev.workflows import list_templates, sfn

    if not _aws_reachable():
        return Health.skip("no AWS endpoint (not in AWS, no local stack)")
    client = probe_client("stepfunctions")
    missing: list[str] = []
    templates = [t.name for t in list_templates()]
    try:
        for template in templates:
            try:
                client.describe_state_machine(stateMachineArn=sfn.state_machine_arn(template))
            except ClientError as error:
                code = str(error.response.get("Error", {}).get("Code", ""))
                if code != "StateMachineDoesNotExist":
                    raise
                missing.append(template)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", "error"))
        return Health(False, f"Step Functions answered {code}")
    except BotoCoreError as error:
        return Health(False, f"Step Functions is unreachable ({_first_line(error)})")
    if missing:
        return Health(False, f"state machines missing: {', '.join(missing)}")
    return Health(True, f"{len(templates)} state machines")


def orchestrator() -> Health:
    from autodev.config import get_settings
    from autodev.durations import format_duration
    from autodev.orchestrator import queue

    depth = queue.queue_depth()
    expired = queue.expired_lease_count(LEASE_GRACE_SECONDS)
    oldest = depth.oldest_queued_seconds
    state = f"{depth.running} running, {depth.total_queued} queued" + (
        f" (oldest {format_duration(oldest)})" if oldest is not None else ""
    )
    if expired:
        return Health(
            False,
            f"{expired} running task(s) whose worker stopped renewing its lease"
            f" over {LEASE_GRACE_SECONDS:g} s ago; {state}",
        )
    limit = get_settings().alert_queue_age_seconds
    if oldest is not None and oldest > limit:
        state += f"; older than {format_duration(limit)}: are workers starting?"
    return Health(True, state)


def slack() -> Health:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web import WebClient

    from autodev.slack.client import api_url
    from autodev.slack.signing import bot_token

    token = bot_token()
    if token is None:
        return Health.skip("no bot token (SLACK_BOT_TOKEN)")
    client = WebClient(token=token, base_url=api_url(), timeout=5)
    try:
        answer = client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error") if error.response else None
        return Health(False, f"Slack answered {code or 'an error'}")
    except OSError as error:
        return Health(False, f"Slack is unreachable ({_first_line(error)})")
    return Health(True, f"team {answer.get('team')}, bot {answer.get('user_id')}")
