"""Token counts, real wherever they can be had.

In order of preference:

1. **Usage**: what the Messages API (or Claude Code) reported for a call. A model's answer is
   stored with the ``output_tokens`` of the call that produced it; every call's usage is added
   to the conversation's totals.
2. **Counted**: text not yet sent (a user's message, a step's summary, a memory, a
   repository's instructions) is counted with the Messages API's token counting endpoint
   (``models.token_counting``, without the SDK's import), which is free and not billed as a
   model call.
3. **Estimated**, only when counting is unreachable (Bedrock's SDK client has no counting; the
   provider is not configured here; or the endpoint failed after its retries):
   ``estimate_tokens``, one token per three characters, rounded up, plus three. Claude
   averages about 3.5 characters a token on English and fewer on code and JSON; erring high
   keeps the context within its limit. After a failed call the counter estimates for
   ``RETRY_AFTER_SECONDS`` before it tries the endpoint again, so that an outage does not add
   the SDK's retries to every message.

Counts of one text are remembered (by digest), so a system prompt sent every turn is counted
once.

Where a count only has to keep something within a limit and the caller cannot wait for the
endpoint (an agent step about to start Claude Code), ``count(text, exact=False)`` gives a
remembered count, else an **upper bound** at once: the text's UTF-8 bytes plus
``FRAMING_TOKENS`` (a token stands for at least one byte; the framing is the message's own).
It errs high, several times over for prose, so a context assembled from it stays within its
limit; a caller that finds the bound over its limit asks for the exact count.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from autodev.config import Settings
from autodev.conversations.models import TokenSource
from autodev.models.client import client_key, supports_token_counting
from autodev.models.providers import ProviderUnavailable
from autodev.observability import child_logger

if TYPE_CHECKING:
    from autodev.models.token_counting import TokenCountingEndpoint

log = child_logger(__name__)

RETRY_AFTER_SECONDS = 60.0
# What the counting endpoint adds for the message around a text (a handful of tokens), with
# room to spare.
FRAMING_TOKENS = 32
_CACHE_SIZE = 2048


def estimate_tokens(text: str) -> int:
    """The documented fallback: ceil(characters / 3) + 3 (deliberately high)."""
    return -(-len(text) // 3) + 3


def upper_bound(text: str) -> int:
    """At least as many tokens as ``text`` has, found without counting (see the module)."""
    return len(text.encode()) + FRAMING_TOKENS if text else 0


class TokenCounter:
    """Counts text for one model with the token counting endpoint, else estimates."""

    def __init__(self, settings: Settings, endpoint: TokenCountingEndpoint | None = None) -> None:
        self._model = settings.autodev_model
        self._enabled = supports_token_counting(settings)
        self._endpoint = endpoint
        self._settings = settings
        self._failed_at: float | None = None
        self._cache: OrderedDict[str, tuple[int, TokenSource]] = OrderedDict()
        self._lock = threading.Lock()

    def _api(self) -> TokenCountingEndpoint:
        if self._endpoint is None:
            # Imported when the endpoint is first asked: its HTTP client (urllib3) is half of
            # what the conversations' import costs, which an agent step pays while its Claude
            # Code starts but counts nothing exactly there (``exact=False``).
            from autodev.models.token_counting import MessagesApiCounting

            self._endpoint = MessagesApiCounting(self._settings)
        return self._endpoint

    def count(self, text: str, *, exact: bool = True) -> tuple[int, TokenSource]:
        """The tokens of ``text`` sent as one message, and where the figure came from.
        ``exact=False``: a remembered count, else an upper bound (an estimate where counting
        is unavailable), without waiting on the endpoint."""
        digest = hashlib.sha256(text.encode()).hexdigest()
        with self._lock:
            if digest in self._cache:
                self._cache.move_to_end(digest)
                return self._cache[digest]
        if not exact and text:
            if self._counting():
                return upper_bound(text), TokenSource.ESTIMATE
            return self._count_uncached(text)  # the estimate, at once
        found = self._count_uncached(text)
        if found[1] is TokenSource.COUNTED:
            with self._lock:
                self._cache[digest] = found
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return found

    def _counting(self) -> bool:
        """Whether the endpoint is to be asked (enabled, and not failed lately)."""
        return self._enabled and (
            self._failed_at is None or time.monotonic() - self._failed_at >= RETRY_AFTER_SECONDS
        )

    def _count_uncached(self, text: str) -> tuple[int, TokenSource]:
        if not text:
            return 0, TokenSource.COUNTED
        if not self._counting():
            return estimate_tokens(text), TokenSource.ESTIMATE
        from autodev.models.token_counting import CountingFailed

        try:
            tokens = self._api().count(self._model, text)
        except (CountingFailed, ProviderUnavailable) as error:
            self._failed_at = time.monotonic()
            log.warning(
                "token counting is unavailable (%s); estimating for %.0f s",
                type(error).__name__,
                RETRY_AFTER_SECONDS,
            )
            return estimate_tokens(text), TokenSource.ESTIMATE
        self._failed_at = None
        return tokens, TokenSource.COUNTED


_counters: dict[tuple[str, ...], TokenCounter] = {}
_counters_lock = threading.Lock()


def counter_for(settings: Settings) -> TokenCounter:
    """The process's counter for these settings (its cache is shared by every caller)."""
    key = (*client_key(settings), settings.autodev_model)
    with _counters_lock:
        found = _counters.get(key)
        if found is None:
            found = _counters[key] = TokenCounter(settings)
        return found
