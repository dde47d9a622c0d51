"""Rescuer Lambda, run every minute by EventBridge Scheduler (a loop on the local stack).

Returns tasks whose worker died to the queue (or ends them dead and fails their workflow
step with SendTaskFailure), sends outcomes left in the outbox, and runs the scaler.
"""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.observability import ASYNC, child_logger, lambda_handler
from autodev.orchestrator.rescuer import rescue_once

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.DATABASE, runtime.EVENT_BUS, runtime.ECS_WORKERS)

logger = child_logger("functions.rescuer")


@lambda_handler(correlation_id_path=ASYNC)
def handler(event: Any, context: Any) -> dict[str, Any]:
    del event, context
    report = rescue_once()
    logger.info(
        "rescuer pass",
        extra={k: len(v) if isinstance(v, list) else v for k, v in report.items() if k != "scale"},
    )
    return report
