"""Block Kit for ``/workflow audit <id>``: who did what to a workflow (or schedule), when."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from autodev.audit import AuditEvent
from autodev.slack.mentions import mention
from autodev.slack.views import clip

SHOWN = 30


def trail(title: str, events: Sequence[AuditEvent]) -> tuple[str, list[Block]]:
    text = f"Audit trail of {title}: {len(events)} event(s)"
    if not events:
        return text, [SectionBlock(text=MarkdownTextObject(text=f"No audit events for {title}."))]
    lines = [
        f"`{e.occurred_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}` {mention(e.actor)} {e.describe()}"
        for e in events[-SHOWN:]
    ]
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Audit trail — {title}", 150)),
        SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines)))),
    ]
    if len(events) > SHOWN:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"The latest {SHOWN} of {len(events)};"
                        " `autodev audit --workflow ID` shows all."
                    )
                ]
            )
        )
    return text, blocks
