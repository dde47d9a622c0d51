"""The slow half of Slack requests, invoked asynchronously (InvocationType=Event) by the
three Slack handlers with ``{"slack_job": {...}}`` (``autodev.slack.job_models``: a command,
interaction or mention job, told apart by ``kind``); answers via response_url or the thread.

Also the target of the EventBridge rule for ``approval:requested`` (source ``autodev``): it
posts the Approve/Reject card in the workflow's thread; and of workflow_finished's
``{"workflow_end": {...}}``: the end noted in the workflow's conversation (its Slack thread)
and what the conversation taught learnt, off the execution's last state.
"""

from __future__ import annotations

from typing import Any

from autodev import runtime
from autodev.errors import InvalidInput
from autodev.observability import ASYNC, lambda_handler
from autodev.slack.jobs import JOB_KEY, WORKFLOW_END_KEY, parse_job, run

# In AWS a missing setting stops the cold start here (see autodev.runtime).
NEEDS = runtime.require(
    runtime.DATABASE,
    runtime.SLACK_BOT_TOKEN,
    runtime.EVENT_BUS,
    runtime.DELIVERY_FUNCTION,
)


# A job carries the correlation id of the Slack request it came from (``SlackJob``).
@lambda_handler(correlation_id_path=f"{JOB_KEY}.correlation_id || {ASYNC}")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("detail-type") == "approval:requested":
        # EventBridge rule (source autodev): post the Approve/Reject card in the thread.
        from autodev.slack.notify import approval_requested

        return {"ok": True, "ts": approval_requested(dict(event.get("detail") or {}))}
    if isinstance(event, dict) and WORKFLOW_END_KEY in event:
        from autodev.workflows.finish import note_handed_end

        note_handed_end(event[WORKFLOW_END_KEY])
        return {"ok": True}
    if not isinstance(event, dict) or not isinstance(event.get(JOB_KEY), dict):
        raise InvalidInput("the Slack worker expects {'slack_job': {...}}")
    run(parse_job(event[JOB_KEY]))  # a job that does not fit is refused before any work
    return {"ok": True}
