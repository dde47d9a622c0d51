"""Approval steps (``lambda:invoke.waitForTaskToken``): store the request and its task token.

The token stays in ``approvals``; approvers see an opaque approval id (Slack buttons, the CLI),
and ``approval:requested`` is published for the Slack layer.
"""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.observability import WORKFLOW, child_logger, lambda_handler
from autodev.workflows.steps import ApprovalRequest, open_approval, parse

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.DATABASE, runtime.SLACK_BOT_TOKEN, runtime.EVENT_BUS)

logger = child_logger("functions.request_approval")


@lambda_handler(correlation_id_path=WORKFLOW)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request: ApprovalRequest = parse(ApprovalRequest, event)
    approval = open_approval(request)
    logger.info(
        "approval requested",
        extra={"workflow_id": request.workflow_id, "approval_id": approval.id},
    )
    return {"approval_id": approval.id}
