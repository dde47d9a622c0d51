"""Slack Block Kit button clicks (Approve, Reject, View details, Cancel, Retry).

Verifies the signature first, acknowledges at once, and lets the Slack worker act on the
click (env SLACK_WORKER_FUNCTION); the outcome arrives through the click's response_url.
"""

from __future__ import annotations

from typing import Any

from autodev.slack.inbound import bind_context, handle_interaction


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind_context(context)
    return handle_interaction(event)
