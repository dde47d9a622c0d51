"""The last Task of every state machine: record the outcome and deliver it.

Sets the ``workflows`` row's status, output, cost and finish time, writes the audit trail and
hands the result to ``autodev.callbacks.deliver_result`` (its outbox, in the same
transaction); once that has committed, ``kick_delivery`` has the deliveries sent now (the
deliver_results function, asynchronously, in AWS; inline elsewhere) rather than at the next
scheduled sweep. Safe to run twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from autodev import runtime
from autodev.callbacks import kick_delivery
from autodev.workflows.steps import FinishRequest, finish, parse

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(
    runtime.DATABASE,
    runtime.SLACK_BOT_TOKEN,
    runtime.EVENT_BUS,
    runtime.DELIVERY_FUNCTION,
)

logger = Logger(service="autodev-workflow-finished")


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request: FinishRequest = parse(FinishRequest, event)
    result = finish(request)
    kick_delivery()
    logger.info(
        "workflow finished", extra={"workflow_id": request.workflow_id, "status": result.status}
    )
    return {"workflow_id": result.workflow_id, "status": result.status}
