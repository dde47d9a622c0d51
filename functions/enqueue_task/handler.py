"""Agent steps of the state machines (``lambda:invoke.waitForTaskToken``): queue the step's task.

The task token goes to ``autonomous_tasks`` (server-side); the worker that finishes the task
answers Step Functions with it. Then the scaler is poked, so a worker starts without waiting.
"""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.observability import WORKFLOW, child_logger, lambda_handler
from autodev.workflows.steps import EnqueueRequest, enqueue_step, parse, poke_scaler

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.DATABASE, runtime.SCALER_FUNCTION)

logger = child_logger("functions.enqueue_task")


@lambda_handler(correlation_id_path=WORKFLOW)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request: EnqueueRequest = parse(EnqueueRequest, event)
    task_id = enqueue_step(request)
    logger.info(
        "queued step task",
        extra={"workflow_id": request.workflow_id, "step": request.state, "task_id": task_id},
    )
    poke_scaler(task_id)
    return {"task_id": task_id}
