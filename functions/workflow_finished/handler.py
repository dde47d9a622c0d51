"""The last Task of every state machine: record the outcome and deliver it.

Sets the ``workflows`` row's status, output, cost and finish time, writes the audit trail and
hands the result to ``autodev.callbacks.deliver_result`` (its outbox, in the same
transaction); once that has committed, ``kick_delivery`` has the deliveries sent now (the
deliver_results function, asynchronously, in AWS; inline elsewhere) rather than at the next
scheduled sweep; the end's note in the workflow's conversation and its learning (a model
call) go to the Slack worker, asynchronously, so that the execution does not wait for them.
Safe to run twice.
"""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.observability import WORKFLOW, child_logger, lambda_handler
from autodev.workflows.steps import FinishRequest, finish, parse

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(
    runtime.DATABASE,
    runtime.SLACK_BOT_TOKEN,
    runtime.EVENT_BUS,
    runtime.DELIVERY_FUNCTION,
)

logger = child_logger("functions.workflow_finished")


@lambda_handler(correlation_id_path=WORKFLOW)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request: FinishRequest = parse(FinishRequest, event)
    result = finish(request)
    logger.info(
        "workflow finished", extra={"workflow_id": request.workflow_id, "status": result.status}
    )
    return {"workflow_id": result.workflow_id, "status": result.status}
