"""Slack Block Kit button clicks (Approve, Reject, View details, Cancel, Retry).

Verifies the signature first, acknowledges at once, and lets the Slack worker act on the
click (env SLACK_WORKER_FUNCTION); the outcome arrives through the click's response_url.
"""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.observability import API_GATEWAY, lambda_handler
from autodev.slack.inbound import handle_interaction

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.SLACK_SIGNING_SECRET, runtime.SLACK_WORKER_FUNCTION)


@lambda_handler(correlation_id_path=API_GATEWAY)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_interaction(event)
