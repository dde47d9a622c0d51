"""The Slack Events API: url_verification and app_mention in a workflow's thread."""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.observability import API_GATEWAY, lambda_handler
from autodev.slack.inbound import handle_event

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.SLACK_SIGNING_SECRET, runtime.SLACK_WORKER_FUNCTION)


@lambda_handler(correlation_id_path=API_GATEWAY)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_event(event)
