"""An approval card's closing: once decided, expired or cancelled, it loses its buttons.

``autodev.workflows.approvals`` calls ``queue_closed`` in the very transaction that closes an
approval (whichever surface did: a Slack button, a slash command, the CLI, a cancellation, the
timeout). The closed card goes through the live status messages' queue
(``autodev.progress.slack_updates``): committed with the decision, edited into the card's
Slack message by ``send_now`` right after, or by the delivery sweep if that could not be done
(no Slack token in this process, Slack down, rate limited).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import psycopg

from autodev.observability import best_effort_failed, child_logger
from autodev.slack import platform, views
from autodev.slack.signing import BOT_TOKEN_ARN_ENV, BOT_TOKEN_ENV

if TYPE_CHECKING:
    from autodev.workflows import Approval

log = child_logger(__name__)


def key(approval_id: str) -> str:
    """The card's row in the status messages' queue."""
    return f"approval:{approval_id}"


def card_message(approval: Approval) -> dict[str, Any]:
    """``{text, blocks}`` of the card as the approval stands."""
    view = platform.approval_view(approval)
    return {"text": views.approval_text(view), "blocks": views.as_dicts(views.approval_card(view))}


def queue_closed(conn: psycopg.Connection[Any], approval: Approval) -> None:
    """Queue the edit that turns the approval's posted card into its closed form."""
    from autodev.progress import slack_updates

    if not approval.slack_channel or not approval.slack_ts:
        return
    slack_updates.put_state(
        conn,
        key(approval.id),
        approval.slack_channel,
        None,
        card_message(approval),
        ts=approval.slack_ts,
    )


def _slack_reachable() -> bool:
    # Only whether a token is configured: reading it (Secrets Manager) is the client's job.
    return bool(os.environ.get(BOT_TOKEN_ENV) or os.environ.get(BOT_TOKEN_ARN_ENV))


def send_now(approval_ids: list[str]) -> None:
    """Edit the closed cards into Slack now; what fails stays queued for the delivery sweep."""
    if not approval_ids or not _slack_reachable():
        return
    from autodev.progress import slack_updates

    try:
        slack_updates.flush_due(keys=[key(approval_id) for approval_id in approval_ids])
    except Exception:
        best_effort_failed("approval_card", log, approvals=",".join(approval_ids))
