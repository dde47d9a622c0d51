"""Members of a Slack user group (``APPROVER_GROUP``), from Slack's user-group API.

The group is named by its id (``S0123ABCD``) or its handle (``release-managers``, with or
without the ``@``); a handle is looked up with ``usergroups.list``, members with
``usergroups.users.list`` (the bot needs the ``usergroups:read`` scope). Answers are cached for
``CACHE_SECONDS``, so a burst of clicks costs one call, and a change of membership counts within
a minute. Errors are raised (the caller decides: ``autodev.access`` denies and counts it).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from autodev.errors import NotFound

CACHE_SECONDS = 60.0
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")

Clock = Callable[[], float]


class _Cache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, frozenset[str]]] = {}
        self._ids: dict[str, tuple[float, str]] = {}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._ids.clear()


_cache = _Cache()


def forget() -> None:
    """Drop every cached answer (tests; a membership change that must count at once)."""
    _cache.clear()


def _group_id(group: str, now: float) -> str:
    handle = group.strip().lstrip("@")
    if _GROUP_ID.match(handle):
        return handle
    with _cache._lock:
        cached = _cache._ids.get(handle)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    from autodev.slack.client import web_client

    answer = web_client().usergroups_list(include_disabled=False)
    for found in answer.get("usergroups") or []:
        if found.get("handle") == handle or found.get("id") == handle:
            with _cache._lock:
                _cache._ids[handle] = (now, str(found["id"]))
            return str(found["id"])
    raise NotFound(f"there is no Slack user group {group!r}")


def members(group: str, *, clock: Clock = time.monotonic) -> frozenset[str]:
    """The user ids in the group (cached for ``CACHE_SECONDS``)."""
    now = clock()
    group_id = _group_id(group, now)
    with _cache._lock:
        cached = _cache._entries.get(group_id)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    from autodev.slack.client import web_client

    answer = web_client().usergroups_users_list(usergroup=group_id, include_disabled=False)
    found = frozenset(str(user) for user in answer.get("users") or [])
    with _cache._lock:
        _cache._entries[group_id] = (now, found)
    return found


def is_member(user_id: str, group: str, *, clock: Clock = time.monotonic) -> bool:
    """Whether the Slack user ``user_id`` is in the group."""
    return user_id in members(group, clock=clock)
