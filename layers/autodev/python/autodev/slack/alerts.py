"""Block Kit for the alert channel: an alert (new or repeated) and its resolution.

Each says what happened, how bad it is, and what to look at; the text is the notification
line (and what clients without blocks show).
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from autodev.durations import format_duration
from autodev.slack.views import clip

SEVERITY_ICONS = {
    "critical": ":rotating_light:",
    "warning": ":warning:",
    "info": ":information_source:",
}


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def alert(
    *,
    alert_id: int,
    severity: str,
    alert_type: str,
    message: str,
    look_at: str,
    opened_at: datetime,
    repeat: int,
) -> tuple[str, list[Block]]:
    """An alert; ``repeat`` is 0 the first time, then how many times it was posted before."""
    icon = SEVERITY_ICONS.get(severity, ":grey_question:")
    again = f" (still open, reminder {repeat})" if repeat else ""
    text = f"{icon} {severity.upper()}{again}: {message}"
    context = f"alert #{alert_id} · {alert_type} · open since {_when(opened_at)}"
    return clip(text, 3000), [
        SectionBlock(
            text=MarkdownTextObject(text=clip(f"{icon} *{severity.upper()}*{again}: {message}"))
        ),
        SectionBlock(text=MarkdownTextObject(text=clip(f"*Look at:* {look_at}"))),
        ContextBlock(elements=[MarkdownTextObject(text=clip(context, 2000))]),
    ]


def resolved(
    *, alert_id: int, alert_type: str, message: str, opened_at: datetime, resolved_at: datetime
) -> tuple[str, list[Block]]:
    lasted = format_duration((resolved_at - opened_at).total_seconds())
    text = f":white_check_mark: Resolved after {lasted}: {message}"
    context = f"alert #{alert_id} · {alert_type} · open {_when(opened_at)} to {_when(resolved_at)}"
    return clip(text, 3000), [
        SectionBlock(
            text=MarkdownTextObject(
                text=clip(f":white_check_mark: *Resolved* after {lasted}: {message}")
            )
        ),
        ContextBlock(elements=[MarkdownTextObject(text=clip(context, 2000))]),
    ]
