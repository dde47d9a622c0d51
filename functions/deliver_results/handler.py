"""Send queued result deliveries (Slack, signed webhooks, EventBridge) with retries.

Invoked asynchronously by ``autodev.callbacks.kick_delivery`` once a result is committed
(functions/workflow_finished, the Slack worker after a cancel; input may name the
``delivery_ids`` to send now) and on a schedule (empty input: every delivery that is due,
including retries), which also sends live Slack status messages that a finished process
left pending. Deliveries are claimed before they are sent, so overlapping runs never send
one twice. On the local stack the ``result-delivery`` service does the same every 2 s.
"""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.observability import ASYNC, best_effort_failed, child_logger, lambda_handler

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(runtime.DATABASE, runtime.SLACK_BOT_TOKEN, runtime.EVENT_BUS)

logger = child_logger("functions.deliver_results")


@lambda_handler(correlation_id_path=ASYNC)
def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    # Loaded by the first invocation, not at import: the outbox, the channels (slack_sdk) and
    # the database cost more to import than the whole cold start may (issue 18).
    from autodev.callbacks import deliver_due
    from autodev.progress import slack_updates

    event = event if isinstance(event, dict) else {}
    ids = event.get("delivery_ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        logger.warning("invocation refused: delivery_ids must be a list of ids")
        return {"ok": False, "error": "delivery_ids must be a list of ids"}
    report = deliver_due(ids=ids)
    try:
        status_messages = slack_updates.flush_due()
    except Exception:  # the deliveries above are what this function is for
        best_effort_failed("slack_status_sweep", logger)
        status_messages = 0
    summary = {**report.to_json(), "status_messages": status_messages}
    logger.info(
        "deliveries sent",
        extra={k: len(v) if isinstance(v, list) else v for k, v in summary.items()},
    )
    return {"ok": True, **summary}
