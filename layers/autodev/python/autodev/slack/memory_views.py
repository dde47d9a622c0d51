"""Block Kit for memories: ``/workflow remember``, ``/workflow memories``, forgetting."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from slack_sdk.models.blocks import Block, HeaderBlock, MarkdownTextObject, SectionBlock

from autodev.slack.views import clip

if TYPE_CHECKING:
    from autodev.conversations import Memory

SHOWN = 50


def _line(memory: Memory) -> str:
    scope = " _(team)_" if memory.scope.value == "team" else ""
    return f"`{memory.id}` {memory.text}{scope}"


def remembered(memory: Memory) -> tuple[str, list[Block]]:
    whose = "the team's" if memory.scope.value == "team" else "your"
    text = f":brain: Remembered as {whose} memory {_line(memory)}"
    return text, [SectionBlock(text=MarkdownTextObject(text=clip(text)))]


def forgotten(found: Sequence[Memory]) -> tuple[str, list[Block]]:
    lines = "\n".join(_line(memory) for memory in found)
    text = f":wastebasket: Forgotten:\n{lines}"
    return text, [SectionBlock(text=MarkdownTextObject(text=clip(text)))]


def listing(found: Sequence[Memory]) -> tuple[str, list[Block]]:
    if not found:
        text = "You have no memories yet. `/workflow remember <fact>` adds one."
        return text, [SectionBlock(text=MarkdownTextObject(text=text))]
    text = f"Your memories and your team's: {len(found)}"
    lines = [_line(memory) for memory in found[:SHOWN]]
    footer = "`/workflow forget <id>` deletes one of yours."
    if len(found) > SHOWN:
        footer = f"The first {SHOWN} of {len(found)}. {footer}"
    blocks: list[Block] = [
        HeaderBlock(text="Memories"),
        SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines)))),
        SectionBlock(text=MarkdownTextObject(text=footer)),
    ]
    return text, blocks
