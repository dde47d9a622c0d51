"""The live status message: a progress bar, the current step, the ETA and the metrics."""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from autodev.durations import format_duration
from autodev.progress.estimate import Stage
from autodev.slack import views

BAR_CELLS = 20
_STATUS_WORDS = {
    "running": "Running",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
_STAGE_MARKS = {"done": "✅", "running": "▶️", "failed": "❌", "pending": "▫️"}


def progress_bar(percent: float, cells: int = BAR_CELLS) -> str:
    filled = min(cells, max(0, round(percent / 100.0 * cells)))
    return "█" * filled + "░" * (cells - filled)


def status_message(state: dict[str, Any]) -> dict[str, Any]:
    """``{text, blocks}`` for a progress state (the dict ``Progress.to_json`` gives)."""
    percent = float(state["percent"])
    stages = [Stage.from_json(stage) for stage in state["stages"]]
    running = [stage.name for stage in stages if stage.status == "running"]
    status = _STATUS_WORDS.get(state["status"], state["status"])
    title = f"*{state['task_type']}* `{state['id']}` — {status}"
    bar = f"`{progress_bar(percent)}` *{percent:.0f}%*"
    eta = "—" if state["status"] != "running" else format_duration(state.get("eta_seconds"))
    step = ", ".join(running) or (stages[state["current_stage"]].name if stages else "—")
    metrics = state.get("metrics") or {}
    metric_line = (
        f"💬 {metrics.get('messages', 0)} messages · 🔤 {metrics.get('tokens', 0):,} tokens · "
        f"💵 ${float(metrics.get('cost_usd', 0)):.2f} · 📄 {metrics.get('files_modified', 0)} files"
        f" · 🔧 {metrics.get('tool_calls', 0)} tool calls"
    )
    stage_line = "  ".join(
        f"{_STAGE_MARKS.get(stage.status, '▫️')} {stage.name}" for stage in stages
    )
    fields = [
        MarkdownTextObject(text=f"*Step:* {step}"),
        MarkdownTextObject(text=f"*ETA:* {eta}"),
    ]
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=title)),
        SectionBlock(text=MarkdownTextObject(text=bar), fields=fields),
    ]
    line = status_line(state.get("status_message"))
    if line:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=line)))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=stage_line[:3000])]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=metric_line)]))
    if state.get("kind") == "workflow":
        # A workflow's status message is its status card too: the same buttons.
        blocks.append(ActionsBlock(elements=_workflow_buttons(str(state["id"]), state["status"])))
    text = f"{state['task_type']} {state['id']}: {status} {percent:.0f}% ({step}), ETA {eta}"
    return {"text": text, "blocks": [block.to_dict() for block in blocks]}


_FENCED = re.compile(r"```.*?(```|$)", re.DOTALL)
_MARKUP = re.compile(r"[_*`~]")


def status_line(message: Any, limit: int = 300) -> str:
    """What the step says it is doing (or how it ended), as one line of Slack text.

    A step's final answer ends with a JSON block for the workflow: that is left out, and only
    the first line of the words is shown, in italics unless it holds mrkdwn of its own (an
    italic wrapped around a code span or a snake_case name reads garbled)."""
    text = _FENCED.sub(" ", str(message or ""))
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if len(first) > limit:
        first = first[: limit - 1] + "…"
    if not first:
        return ""
    return first if _MARKUP.search(first) else f"_{first}_"


def _workflow_buttons(workflow_id: str, status: str) -> list[ButtonElement]:
    buttons = [ButtonElement(text="View details", action_id=views.VIEW_DETAILS, value=workflow_id)]
    if status == "running":
        buttons.append(
            ButtonElement(text="Cancel", action_id=views.CANCEL, value=workflow_id, style="danger")
        )
    elif status != "completed":
        buttons.append(ButtonElement(text="Retry", action_id=views.RETRY, value=workflow_id))
    return buttons
