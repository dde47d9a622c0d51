"""Scaler Lambda: start workers for what is queued, up to ORCHESTRATOR_MAX_INSTANCES.

Invoked (asynchronously) by enqueue_task after each enqueue and by the rescuer; the event is
ignored. Answers with the decision: queued, running tasks, workers up, wanted, launched.
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
    del event, context
    # Loaded by the first invocation, not at import: the scaler's modules (database, settings)
    # cost more to import than the whole cold start may (issue 18).
    from autodev.orchestrator.scaler import scale

    decision = scale().to_json()
    logger.info("scaled", extra=decision)
    return decision
