"""The Slack Events API: url_verification and app_mention in a workflow's thread."""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.slack.inbound import bind_context, handle_event

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.SLACK_SIGNING_SECRET, runtime.SLACK_WORKER_FUNCTION)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind_context(context)
    return handle_event(event)
