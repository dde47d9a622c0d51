"""The Messages API client autodev's own model calls use (summaries, memories, answers).

Claude Code reaches its model by itself (``providers.agent_environment``); everything else goes
through the ``anthropic`` SDK, with its retries (connection errors, 408/409/429/5xx, with
backoff and ``retry-after``) and timeouts:

- ``anthropic``: ``Anthropic`` with ``ANTHROPIC_API_KEY`` (the SDK itself honours
  ``ANTHROPIC_BASE_URL``, e.g. a gateway).
- ``bedrock``: ``AnthropicBedrock``, with the region and credentials the AWS SDK finds (the
  task or function role). Bedrock has no token counting endpoint in the SDK, so
  ``supports_token_counting`` says no and counts fall back to the documented estimate.
- ``scripted``: ``Anthropic`` pointed at ``AUTODEV_SCRIPTED_MODEL_URL`` with a placeholder key:
  the very same requests, answered by the local stand-in. Nothing is sent that only the
  stand-in understands.

Clients are kept per configuration, so that their HTTP connections are reused. The SDK is
imported on first use: it takes seconds to import, which a Lambda's cold start should only
pay when it calls the model.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import TYPE_CHECKING, TypeAlias

from autodev.config import ModelProvider, Settings
from autodev.models.providers import SCRIPTED_API_KEY, SCRIPTED_MODEL_URL_ENV, ProviderUnavailable

if TYPE_CHECKING:
    import anthropic

    MessagesClient: TypeAlias = anthropic.Anthropic | anthropic.AnthropicBedrock

# Per request; the SDK retries this many times on top of the first attempt.
TIMEOUT_SECONDS = 60.0
MAX_RETRIES = 2

_clients: dict[tuple[str, ...], MessagesClient] = {}
_lock = threading.Lock()


def client_key(settings: Settings) -> tuple[str, ...]:
    """What tells one client configuration from another (a key only by its digest)."""
    provider = settings.model_provider
    if provider is ModelProvider.SCRIPTED:
        return (provider.value, settings.autodev_scripted_model_url or "")
    if provider is ModelProvider.ANTHROPIC:
        # A rotated key needs a new client; the key is known here by its digest only.
        secret = settings.anthropic_api_key
        digest = hashlib.sha256(secret.get_secret_value().encode()).hexdigest() if secret else ""
        return (provider.value, digest)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
    return (provider.value, region)


def _new_client(settings: Settings) -> MessagesClient:
    import anthropic

    provider = settings.model_provider
    if provider is ModelProvider.SCRIPTED:
        if not settings.autodev_scripted_model_url:
            raise ProviderUnavailable(
                f"AUTODEV_MODEL_PROVIDER is scripted but {SCRIPTED_MODEL_URL_ENV} is not set "
                "(the local stack runs a scripted model server and sets it)"
            )
        return anthropic.Anthropic(
            api_key=SCRIPTED_API_KEY,
            base_url=settings.autodev_scripted_model_url,
            timeout=TIMEOUT_SECONDS,
            max_retries=MAX_RETRIES,
        )
    if provider is ModelProvider.ANTHROPIC:
        if settings.anthropic_api_key is None:
            raise ProviderUnavailable(
                "AUTODEV_MODEL_PROVIDER is anthropic but ANTHROPIC_API_KEY is not set"
            )
        return anthropic.Anthropic(
            api_key=settings.anthropic_api_key.get_secret_value(),
            timeout=TIMEOUT_SECONDS,
            max_retries=MAX_RETRIES,
        )
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise ProviderUnavailable("AUTODEV_MODEL_PROVIDER is bedrock but AWS_REGION is not set")
    return anthropic.AnthropicBedrock(
        aws_region=region, timeout=TIMEOUT_SECONDS, max_retries=MAX_RETRIES
    )


def messages_client(settings: Settings) -> MessagesClient:
    """The SDK client for the configured provider (kept and reused per configuration)."""
    key = client_key(settings)
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = _clients[key] = _new_client(settings)
        return found


def supports_token_counting(settings: Settings) -> bool:
    """Whether ``messages.count_tokens`` is there to call (not through Bedrock's SDK client)."""
    return settings.model_provider is not ModelProvider.BEDROCK


def close_clients() -> None:
    """Close every kept client (tests, and processes that are about to exit)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()
