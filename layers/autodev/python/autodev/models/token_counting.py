"""The Messages API's token counting endpoint, called without the ``anthropic`` SDK (see
``models.messages_http`` for why), with the SDK's retries and timeout."""

from __future__ import annotations

from typing import Protocol

import urllib3

from autodev.config import ModelProvider, Settings
from autodev.errors import AutodevError
from autodev.models import messages_http
from autodev.models.client import MAX_RETRIES, TIMEOUT_SECONDS
from autodev.models.providers import SCRIPTED_API_KEY, SCRIPTED_MODEL_URL_ENV, ProviderUnavailable

CONNECT_TIMEOUT_SECONDS = 10.0
# What the SDK retries (with backoff, honouring retry-after).
RETRIES = urllib3.Retry(
    total=MAX_RETRIES,
    backoff_factor=0.5,
    status_forcelist=(408, 409, 429, 500, 502, 503, 504),
    allowed_methods=None,  # a count changes nothing: POST is safe to repeat
    respect_retry_after_header=True,
    raise_on_status=False,
)
_TIMEOUT = urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=TIMEOUT_SECONDS)


class CountingFailed(AutodevError):
    """The counting endpoint could not be reached or did not give a count."""


class TokenCountingEndpoint(Protocol):
    def count(self, model: str, text: str) -> int:
        """The input tokens of ``text`` sent to ``model`` as one user message."""
        ...


class MessagesApiCounting:
    """``POST /v1/messages/count_tokens`` of the configured provider (not Bedrock's)."""

    def __init__(self, settings: Settings, retries: urllib3.Retry = RETRIES) -> None:
        self._retries = retries
        provider = settings.model_provider
        if provider is ModelProvider.SCRIPTED:
            if not settings.autodev_scripted_model_url:
                raise ProviderUnavailable(
                    f"AUTODEV_MODEL_PROVIDER is scripted but {SCRIPTED_MODEL_URL_ENV} is not set"
                )
            base, self._key = settings.autodev_scripted_model_url, SCRIPTED_API_KEY
        elif provider is ModelProvider.ANTHROPIC:
            if settings.anthropic_api_key is None:
                raise ProviderUnavailable(
                    "AUTODEV_MODEL_PROVIDER is anthropic but ANTHROPIC_API_KEY is not set"
                )
            base = messages_http.anthropic_base_url()
            self._key = settings.anthropic_api_key.get_secret_value()
        else:
            raise ProviderUnavailable(f"{provider.value} has no token counting endpoint")
        self._url = base.rstrip("/") + "/v1/messages/count_tokens"

    def count(self, model: str, text: str) -> int:
        body = {"model": model, "messages": [{"role": "user", "content": text}]}
        try:
            answer = messages_http.call(
                "POST", self._url, self._key, body=body, retries=self._retries, timeout=_TIMEOUT
            )
        except urllib3.exceptions.HTTPError as error:
            raise CountingFailed(f"token counting is unreachable: {type(error).__name__}") from None
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise CountingFailed(
                f"token counting answered {answer.status}: {answer.error_message()}"
            )
        tokens = answer.body.get("input_tokens")
        if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
            raise CountingFailed("token counting gave no count")
        return tokens
