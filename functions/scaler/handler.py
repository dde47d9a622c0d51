"""Scaler Lambda: start workers for what is queued, up to ORCHESTRATOR_MAX_INSTANCES.

Invoked (asynchronously) by enqueue_task after each enqueue, by the rescuer, and with
``{"expected": 1}`` by slack_commands as ``/workflow start`` arrives and by a workflow's start:
its first step's worker starts while the request is checked and the execution reaches the step
(autodev.orchestrator.scaler). Any other event asks for what is queued. Answers with the
decision: queued, running tasks, workers up, wanted, launched, expected.
"""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.observability import ASYNC, child_logger, lambda_handler

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.DATABASE, runtime.ECS_WORKERS)

logger = child_logger("functions.scaler")


@lambda_handler(correlation_id_path=ASYNC)
def handler(event: Any, context: Any) -> dict[str, Any]:
    del context
    # Loaded by the first invocation, not at import: the scaler's modules (database, settings)
    # cost more to import than the whole cold start may (issue 18).
    from autodev.orchestrator.scaler import expected_tasks, scale

    decision = scale(expected=expected_tasks(event)).to_json()
    logger.info("scaled", extra=decision)
    return decision
