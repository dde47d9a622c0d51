"""The Slack Events API: url_verification and app_mention in a workflow's thread."""

from __future__ import annotations

from typing import Any

from autodev.observability import API_GATEWAY, lambda_handler
from autodev.slack.inbound import handle_event


@lambda_handler(correlation_id_path=API_GATEWAY)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_event(event)
