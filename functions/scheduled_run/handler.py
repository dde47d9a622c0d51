"""A scheduled run's first Task (``Register the scheduled run`` in every state machine).

EventBridge Scheduler started the state machine with ``{"scheduled_job_id",
"scheduled_time"}``; this records the run's workflow for the execution, announces it in the
channel that scheduled it, and answers with the start input the state machine goes on with
(``run: true``), or ``run: false`` when the schedule is gone or the firing runs already.
"""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.observability import child_logger, lambda_handler

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.DATABASE, runtime.SLACK_BOT_TOKEN)

logger = child_logger("functions.scheduled_run")


@lambda_handler(correlation_id_path="scheduled_job_id")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Loaded by the first invocation, not at import: the schedules' store and the database
    # cost more to import than the whole cold start may (issue 18).
    from autodev.schedules import parse_request, register_run

    answer = register_run(parse_request(event))
    logger.info(
        "scheduled run", extra={"run": answer["run"], "workflow_id": answer.get("workflow_id")}
    )
    return answer
