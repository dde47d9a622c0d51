"""Messages autodev posts to Slack on its own initiative (not as an answer to a request).

``post_approval_request`` is what the approval step calls; ``post_workflow_result`` posts a
finished workflow's result in its thread (used when no result callback has posted it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autodev.slack import platform, threads, views
from autodev.slack.client import web_client


def _where(workflow_id: str, channel: str | None, thread_ts: str | None) -> tuple[str, str | None]:
    if channel:
        return channel, thread_ts
    found = threads.thread_of(workflow_id)
    if found is None:
        from autodev.config import get_settings

        return get_settings().alert_channel, None
    return found


def post_approval_request(
    approval_id: str,
    workflow_id: str,
    message: str,
    *,
    approvers: Sequence[str] = (),
    channel: str | None = None,
    thread_ts: str | None = None,
) -> str:
    """Post the Approve/Reject card in the workflow's thread; returns the message ts."""
    workflow = platform.status(workflow_id)
    where, thread = _where(workflow_id, channel, thread_ts)
    blocks = views.approval_request(approval_id, workflow, message, approvers)
    answer = web_client().chat_postMessage(
        channel=where,
        thread_ts=thread,
        text=f"Approval needed: {views.fallback_text(workflow)}",
        blocks=views.as_dicts(blocks),
    )
    return str(answer["ts"])


def approval_requested(detail: dict[str, Any]) -> str:
    """Post the card for an ``approval:requested`` event (EventBridge → the Slack worker)."""
    from autodev.config import get_settings

    approval_id, workflow_id = str(detail["approvalId"]), str(detail["workflowId"])
    return post_approval_request(
        approval_id,
        workflow_id,
        str(detail.get("message") or "Approve this step?"),
        approvers=get_settings().approvers,
        channel=detail.get("slackChannel") or None,
        thread_ts=detail.get("slackThreadTs") or None,
    )


def post_workflow_result(
    workflow_id: str, *, channel: str | None = None, thread_ts: str | None = None
) -> str:
    """Post a workflow's result card in its thread; returns the message ts."""
    workflow = platform.status(workflow_id)
    where, thread = _where(workflow_id, channel, thread_ts)
    answer = web_client().chat_postMessage(
        channel=where,
        thread_ts=thread,
        text=f"Result: {views.fallback_text(workflow)}",
        blocks=views.as_dicts(views.result_message(workflow)),
    )
    return str(answer["ts"])
