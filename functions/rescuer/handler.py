"""Rescuer Lambda, run every minute by EventBridge Scheduler (a loop on the local stack).

Returns tasks whose worker died to the queue (or ends them dead and fails their workflow
step with SendTaskFailure), sends outcomes left in the outbox, and runs the scaler; then
reconciles workflows with their executions (one whose execution ended or is gone is finished,
with its tasks cancelled), so that none stays ``running`` forever.
"""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.observability import ASYNC, child_logger, lambda_handler

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.DATABASE, runtime.EVENT_BUS, runtime.ECS_WORKERS)

logger = child_logger("functions.rescuer")


@lambda_handler(correlation_id_path=ASYNC)
def handler(event: Any, context: Any) -> dict[str, Any]:
    del event, context
    # Loaded by the first invocation, not at import: the queue, the database, settings and boto3
    # cost more to import than the whole cold start may (issue 18).
    from autodev.orchestrator.rescuer import rescue_once
    from autodev.workflows.reconcile import reconcile_workflows

    # Reconciled first: the tasks of a workflow whose execution is gone are cancelled before
    # the scaler would start workers for them.
    reconciled = reconcile_workflows().to_json()
    report = rescue_once()
    report["reconciled"] = reconciled
    logger.info(
        "rescuer pass",
        extra={
            k: len(v) if isinstance(v, list) else v
            for k, v in report.items()
            if k not in ("scale", "reconciled")
        },
    )
    return report
