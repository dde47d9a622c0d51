"""The Slack Web API client every component uses.

It needs a bot token (``SLACK_BOT_TOKEN``, or in AWS the secret ``SLACK_BOT_TOKEN_ARN`` names)
and talks to ``SLACK_API_URL`` (default: Slack's own Web API). Without a token it raises a
ConfigError naming ``SLACK_BOT_TOKEN``; it never falls back to anything else. The local stack
points both settings at its Slack sink. The client retries rate limits (honouring
``Retry-After``), connection errors and Slack's 5xx answers with slack_sdk's retry handlers.
"""

from __future__ import annotations

import os

from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient

from autodev.errors import ConfigError

API_URL_ENV = "SLACK_API_URL"


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


def api_url() -> str:
    """The Web API base URL: ``SLACK_API_URL``, else Slack's own."""
    configured = os.environ.get(API_URL_ENV, "").strip()
    if not configured:
        return WebClient.BASE_URL
    return configured if configured.endswith("/") else configured + "/"


def web_client(*, timeout: int = 10) -> WebClient:
    """A WebClient with the bot token for ``SLACK_API_URL``; ConfigError without a token."""
    token = _bot_token()
    if token is None:
        raise ConfigError(
            "SLACK_BOT_TOKEN is not set (nor SLACK_BOT_TOKEN_ARN): autodev cannot call Slack"
        )
    return WebClient(
        token=token, base_url=api_url(), timeout=timeout, retry_handlers=retry_handlers()
    )


def response_url_client(url: str, *, timeout: int = 10) -> WebhookClient:
    """A client for a slash command's or a button's ``response_url`` (same retry policy)."""
    return WebhookClient(url, timeout=timeout, retry_handlers=retry_handlers())
