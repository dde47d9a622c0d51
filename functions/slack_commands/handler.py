"""Slack slash commands (/workflow, /monitor, /orchestrator) behind API Gateway (REST proxy).

Verifies the signature first, answers within Slack's 3 seconds, and hands slow work to the
Slack worker (env SLACK_WORKER_FUNCTION). Imports stay light: this is on the cold-start path.
"""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.observability import API_GATEWAY, lambda_handler
from autodev.slack.inbound import handle_command

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.SLACK_SIGNING_SECRET, runtime.SLACK_WORKER_FUNCTION)


@lambda_handler(correlation_id_path=API_GATEWAY)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_command(event)
