"""How the context's token limit is shared out, from the two settings.

``CONVERSATION_MAX_TOKENS`` (M) bounds every context; ``CONVERSATION_SUMMARY_THRESHOLD`` (T)
is the size of the live conversation (its summary and the messages it has not replaced) past
which older messages are summarised.

- One message may hold at most M/4 tokens (a tool call with its result counts as one), so the
  newest message always fits beside the system prompt's parts; larger content is refused.
- Memories take at most min(2,000, M/20) tokens and 20 memories; the repository's
  instructions at most min(20,000, M/5) (cut beyond, with a note).
- A summary is at most min(4,096, M/10, T/4) tokens (the summariser's ``max_tokens``).
- Summarising keeps the newest messages verbatim up to T/4 tokens (at least the newest one)
  and folds older ones, at most min(T, 150,000) tokens per call to the summariser.
- Each message in a context costs its own count plus ``ROW_OVERHEAD`` for its framing (the
  role, a transcript's speaker label); per-message counts already include the API's own
  per-request overhead, so the total errs high, never low.
"""

from __future__ import annotations

from dataclasses import dataclass

from autodev.config import Settings

ROW_OVERHEAD = 4
MAX_MEMORIES = 20
# Memories read from the database before ranking (the most important, then newest).
MEMORY_CANDIDATES = 500
_FOLD_MAX = 150_000


@dataclass(frozen=True)
class Budget:
    max_tokens: int
    threshold: int

    @classmethod
    def of(cls, settings: Settings, max_tokens: int | None = None) -> Budget:
        return cls(
            max_tokens=max_tokens or settings.conversation_max_tokens,
            threshold=settings.conversation_summary_threshold,
        )

    @property
    def message_limit(self) -> int:
        return max(1, self.max_tokens // 4)

    @property
    def memories(self) -> int:
        return min(2_000, self.max_tokens // 20)

    @property
    def knowledge(self) -> int:
        return min(20_000, self.max_tokens // 5)

    @property
    def summary_max(self) -> int:
        return max(16, min(4_096, self.max_tokens // 10, self.threshold // 4))

    @property
    def keep_tokens(self) -> int:
        return max(1, self.threshold // 4)

    @property
    def fold_tokens(self) -> int:
        return max(1, min(self.threshold, _FOLD_MAX))
