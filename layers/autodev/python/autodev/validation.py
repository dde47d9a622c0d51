"""Checks on what people type, shared by every way in (CLI, Slack, the workflow API).

Light on purpose (no database, no AWS): the Slack request path calls it before it answers, so
bad input is refused before anything is posted, started or written.

- Text: Postgres stores neither a NUL character (``text`` and ``jsonb`` both refuse it) nor
  an unpaired UTF-16 surrogate (which cannot be encoded as UTF-8; Python keeps undecodable
  command-line bytes as such). Either would fail deep inside a write, after a Slack message
  had been posted, so they are refused where the text arrives, with where they are.
- Budgets: a number of US dollars above 0, finite, and at most ``WORKFLOW_MAX_BUDGET_USD``;
  ``inf`` or ``1e308`` would overflow the ``numeric`` column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from autodev.errors import InvalidInput

# A NUL, or a surrogate code point (paired ones never reach a Python str as such).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> str | None:
    """What in ``text`` cannot be stored, in words (None: nothing)."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return "a NUL character (\\u0000)"
    return f"an unpaired surrogate (\\u{ord(char):04x}), which is not a character"


def check_text(text: str, where: str) -> str:
    """``text`` unchanged, or InvalidInput naming ``where`` and the character."""
    problem = unstorable(text)
    if problem is not None:
        raise InvalidInput(f"{where} contains {problem}; remove it and try again")
    return text


def check_strings(value: Any, where: str) -> Any:
    """Every string in a JSON-like value (keys too) checked as by :func:`check_text`."""
    if isinstance(value, str):
        check_text(value, where)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_text(str(key), f"{where} (a field name)")
            check_strings(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_strings(item, f"{where}[{index}]")
    return value


def without_unstorable(text: str) -> str:
    """``text`` with NULs and unpaired surrogates dropped (for text nobody can be asked to
    retype, such as a mention in a thread)."""
    return _UNSTORABLE.sub("", text)


def budget_usd(value: Any, maximum: float | None = None) -> float:
    """A workflow budget in US dollars: finite, above 0 and at most ``maximum`` (default
    ``WORKFLOW_MAX_BUDGET_USD``); InvalidInput says which bound it broke."""
    if maximum is None:
        from autodev.config import get_settings

        maximum = get_settings().workflow_max_budget_usd
    try:
        amount = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"a budget is a number of US dollars, not {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(amount) or amount <= 0:
        raise InvalidInput(f"a budget must be a number of US dollars above 0, not {value!r}")
    if amount > maximum:
        raise InvalidInput(
            f"a budget of ${amount:g} is above the most a workflow may have, "
            f"${maximum:,.2f} (WORKFLOW_MAX_BUDGET_USD)"
        )
    return amount
