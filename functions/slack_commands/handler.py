"""Slack slash commands (/workflow, /monitor, /orchestrator) behind API Gateway (REST proxy).

Verifies the signature first, answers within Slack's 3 seconds, and hands slow work to the
Slack worker (env SLACK_WORKER_FUNCTION). Imports stay light: this is on the cold-start path.
"""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.slack.inbound import bind_context, handle_command

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.SLACK_SIGNING_SECRET, runtime.SLACK_WORKER_FUNCTION)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind_context(context)
    return handle_command(event)
