"""The last Task of every state machine: record the outcome and deliver it.

Sets the ``workflows`` row's status, output, cost and finish time, writes the audit trail and
hands the result to ``autodev.callbacks.deliver_result``. Safe to run twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from autodev.workflows.steps import FinishRequest, finish, parse

logger = Logger(service="autodev-workflow-finished")


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request: FinishRequest = parse(FinishRequest, event)
    result = finish(request)
    logger.info(
        "workflow finished", extra={"workflow_id": request.workflow_id, "status": result["status"]}
    )
    return {"workflow_id": result["workflow_id"], "status": result["status"]}
