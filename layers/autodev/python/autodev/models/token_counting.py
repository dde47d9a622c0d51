"""The Messages API's token counting endpoint, called without the ``anthropic`` SDK.

Counting is the Messages API call that paths with no model call of their own make: the note of
a workflow's start in the Slack job, a step's note in the worker, a user's message in a
thread. Importing the SDK for it cost about 2.3 s of CPU (``python -c "import anthropic"``:
some 3,400 modules and 1,500 pydantic models): in a 512 MB Lambda, which has about a third of a
vCPU, several seconds of a cold start before the Slack job answered; in a worker, a burst on
the vCPU its agent runs on, while the agent runs. The endpoint is one JSON POST, sent here with
urllib3 (which botocore loads anyway) and the SDK's headers, retries and timeout, to the same
place the SDK would send it (``ANTHROPIC_BASE_URL``, else the API's own address; the scripted
server for the scripted provider). Model calls still go through the SDK (``models.client``).
"""

from __future__ import annotations

import json
import os
import threading
from typing import Protocol

import urllib3

from autodev.config import ModelProvider, Settings
from autodev.errors import AutodevError
from autodev.models.client import MAX_RETRIES, TIMEOUT_SECONDS
from autodev.models.providers import SCRIPTED_API_KEY, SCRIPTED_MODEL_URL_ENV, ProviderUnavailable

API_VERSION = "2023-06-01"
DEFAULT_BASE_URL = "https://api.anthropic.com"
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

    _pool: urllib3.PoolManager | None = None
    _pool_lock = threading.Lock()

    def __init__(self, settings: Settings, retries: urllib3.Retry = RETRIES) -> None:
        self._retries = retries
        provider = settings.model_provider
        if provider is ModelProvider.SCRIPTED:
            if not settings.autodev_scripted_model_url:
                raise ProviderUnavailable(
                    f"AUTODEV_MODEL_PROVIDER is scripted but {SCRIPTED_MODEL_URL_ENV} is not set"
                )
            base, key = settings.autodev_scripted_model_url, SCRIPTED_API_KEY
        elif provider is ModelProvider.ANTHROPIC:
            if settings.anthropic_api_key is None:
                raise ProviderUnavailable(
                    "AUTODEV_MODEL_PROVIDER is anthropic but ANTHROPIC_API_KEY is not set"
                )
            base = os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
            key = settings.anthropic_api_key.get_secret_value()
        else:
            raise ProviderUnavailable(f"{provider.value} has no token counting endpoint")
        self._url = base.rstrip("/") + "/v1/messages/count_tokens"
        self._headers = {
            "x-api-key": key,
            "anthropic-version": API_VERSION,
            "content-type": "application/json",
            "accept": "application/json",
            "user-agent": "autodev",
        }

    @classmethod
    def _connections(cls) -> urllib3.PoolManager:
        """One pool for the process, so that a count reuses the last one's connection."""
        with cls._pool_lock:
            if cls._pool is None:
                cls._pool = urllib3.PoolManager(timeout=_TIMEOUT)
            return cls._pool

    def count(self, model: str, text: str) -> int:
        body = {"model": model, "messages": [{"role": "user", "content": text}]}
        try:
            answer = self._connections().request(
                "POST",
                self._url,
                body=json.dumps(body).encode(),
                headers=self._headers,
                retries=self._retries,
            )
        except urllib3.exceptions.HTTPError as error:
            # The exception's text can quote the URL, never the headers (the key).
            raise CountingFailed(f"token counting is unreachable: {type(error).__name__}") from None
        try:
            found = json.loads(answer.data) if answer.data else None
        except ValueError:
            found = None
        if answer.status != 200 or not isinstance(found, dict):
            raise CountingFailed(f"token counting answered {answer.status}: {_message(found)}")
        tokens = found.get("input_tokens")
        if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
            raise CountingFailed("token counting gave no count")
        return tokens


def _message(answer: object) -> str:
    """The API's error message, if the answer is its error shape."""
    if isinstance(answer, dict):
        error = answer.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:200]
    return "no error message"
