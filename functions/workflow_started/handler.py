"""The first Task of every state machine: the execution becomes a workflow, if it is not one.

An execution ``start_workflow`` started has its row already; one started from the console,
EventBridge or another service gets its row here, on first sight, with the template's default
budget and ``started_by`` = ``stepfunctions`` (see ``autodev.workflows.register``). Answers the
fields the steps read: ``workflow_id``, ``template``, ``priority``, ``input``. Safe to run twice.
"""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.observability import child_logger, lambda_handler
from autodev.workflows.steps import RegisterRequest, parse, register

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.DATABASE)

logger = child_logger("functions.workflow_started")


@lambda_handler(correlation_id_path="execution_name")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request: RegisterRequest = parse(RegisterRequest, event)
    registered = register(request)
    logger.info(
        "workflow registered",
        extra={"workflow_id": registered["workflow_id"], "execution": request.execution_arn},
    )
    return registered
