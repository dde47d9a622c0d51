"""Messages autodev posts to Slack on its own initiative (not as an answer to a request).

``post_approval_request`` posts the approval card when an approval step asks (through the
``approval:requested`` event); ``autodev.slack.approval_cards`` closes it when it is decided.
A finished workflow's result is not posted from here: it is the Slack result callback's one
message (``autodev.callbacks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autodev.slack import platform, threads, views
from autodev.slack.client import web_client
from autodev.slack.mentions import mention


def _where(
    workflow: views.WorkflowView, channel: str | None, thread_ts: str | None
) -> tuple[str, str | None]:
    """Where a workflow's messages go: as given, else its own thread, else ALERT_CHANNEL."""
    if channel:
        return channel, thread_ts
    if workflow.slack_channel:
        return workflow.slack_channel, workflow.slack_thread_ts
    found = threads.thread_of(workflow.id)
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
    """Post the approval card in the workflow's thread (else ALERT_CHANNEL, which the card
    then says); remember where, so a decision made anywhere closes it. Returns its ts."""
    from autodev.slack import approval_cards

    del message  # the card is built from the stored approval and its summary
    workflow = platform.status(workflow_id)
    where, thread = _where(workflow, channel, thread_ts)
    found = platform.approval(approval_id)
    view = platform.approval_view(found, tuple(approvers) or None, posted_in=where)
    blocks = views.approval_card(view)
    answer = web_client().chat_postMessage(
        channel=where,
        thread_ts=thread,
        text=views.approval_text(view),
        blocks=views.as_dicts(blocks),
    )
    ts = str(answer["ts"])
    recorded = platform.record_card(approval_id, where, ts)
    if recorded.decided:
        approval_cards.send_now([approval_id])  # decided before the card got there
    return ts


def approval_requested(detail: dict[str, Any]) -> str:
    """Post the card for an ``approval:requested`` event (EventBridge → the Slack worker).

    The detail is read through its documented schema (``autodev.events.ApprovalRequested``);
    one that does not fit is refused with ``InvalidInput``. The thread is the workflow's own.
    """
    from pydantic import ValidationError

    from autodev.config import get_settings
    from autodev.errors import InvalidInput
    from autodev.events import ApprovalRequested

    try:
        event = ApprovalRequested.model_validate(detail)
    except ValidationError as error:
        raise InvalidInput(f"approval:requested does not fit its schema: {error}") from None
    return post_approval_request(
        event.approval_id,
        event.workflow_id,
        event.message or "Approve this step?",
        approvers=tuple(event.approvers or get_settings().approvers),
        channel=event.slack_channel,
        thread_ts=event.slack_thread_ts,
    )


def announce_scheduled_run(
    channel: str, template: str, schedule_name: str, schedule: str, scheduled_by: str
) -> str:
    """Open the thread of a scheduled run in the channel that scheduled it; returns its ts."""
    text = (
        f":alarm_clock: Scheduled run of *{template}* (schedule `{schedule_name}`, {schedule},"
        f" set up by {mention(scheduled_by)})"
    )
    answer = web_client().chat_postMessage(channel=channel, text=text)
    return str(answer["ts"])


def withdraw(channel: str, ts: str) -> None:
    """Delete a message autodev posted (a thread that turned out not to be needed)."""
    web_client().chat_delete(channel=channel, ts=ts)
