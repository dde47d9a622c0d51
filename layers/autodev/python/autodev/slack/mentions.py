"""How a person autodev knows of is shown in a Slack message."""

from __future__ import annotations

import re

_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")


def mention(who: str) -> str:
    """A Slack user id (``U123``, ``slack:U123``) as a mention; anyone else (``cli:ann``,
    ``schedule:bug-fix-1a2b3c4d``) as code text."""
    user = who.removeprefix("slack:")
    return f"<@{user}>" if _SLACK_USER.fullmatch(user) else f"`{who}`"
