"""The Slack Web API client every component uses.

With ``SLACK_BOT_TOKEN`` set, calls go to the real Slack workspace. Without it they go to the
local Slack sink (``autodev.slack.sink``) on loopback, with a dummy token that is not a secret,
so the demo and the tests can read back exactly what would have been posted. Either way the
client retries rate limits (honouring ``Retry-After``), connection errors and Slack's 5xx
answers with slack_sdk's own retry handlers.
"""

from __future__ import annotations

from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient

# Sent to the local sink only; it is a placeholder, not a credential.
LOCAL_DUMMY_TOKEN = "xoxb-local-sink-not-a-secret"  # noqa: S105

# Where a running local sink is announced to other processes on this machine.
SINK_URL_ENV = "AUTODEV_SLACK_SINK_URL"


def retry_handlers() -> list[RetryHandler]:
    """Rate limits, dropped connections and Slack's 500/503 answers are retried."""
    return [
        RateLimitErrorRetryHandler(max_retry_count=3),
        ConnectionErrorRetryHandler(max_retry_count=2),
        ServerErrorRetryHandler(max_retry_count=2),
    ]


def _bot_token() -> str | None:
    # SLACK_BOT_TOKEN, or in AWS the secret named by SLACK_BOT_TOKEN_ARN (see signing.py).
    from autodev.slack.signing import bot_token

    return bot_token()


def uses_real_slack() -> bool:
    """True when a bot token is configured and calls reach a real Slack workspace."""
    return _bot_token() is not None


def sink_base_url() -> str:
    """The local sink's Web API base URL (``http://127.0.0.1:PORT/api/``).

    ``AUTODEV_SLACK_SINK_URL`` when the local stack announced one, else the sink file in
    ``AUTODEV_STATE_DIR``, else a sink started in this process (so a script or test that
    posts without the local stack still records its calls instead of failing).
    """
    from autodev.slack import sink

    return sink.api_base_url()


def web_client(*, timeout: int = 10) -> WebClient:
    """A WebClient for real Slack when SLACK_BOT_TOKEN is set, else for the local sink."""
    token = _bot_token()
    if token is not None:
        return WebClient(token=token, timeout=timeout, retry_handlers=retry_handlers())
    return WebClient(
        token=LOCAL_DUMMY_TOKEN,
        base_url=sink_base_url(),
        timeout=timeout,
        retry_handlers=retry_handlers(),
    )


def response_url_client(url: str, *, timeout: int = 10) -> WebhookClient:
    """A client for a slash command's or a button's ``response_url`` (same retry policy)."""
    return WebhookClient(url, timeout=timeout, retry_handlers=retry_handlers())
