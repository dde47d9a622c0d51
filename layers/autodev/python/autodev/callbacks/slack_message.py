"""The rich Slack result message: status, summary, and buttons (View details, Retry, diff)."""

from __future__ import annotations

import os
import re
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from autodev.slack.views import clip

# The interactions handler (autodev.slack) dispatches on these action ids.
VIEW_DETAILS = "workflow_view"
RETRY = "workflow_retry"
OPEN_DIFF = "result_open_diff"
OPEN_PULL_REQUEST = "result_open_pull_request"

_ICONS = {
    "succeeded": ":white_check_mark:",
    "failed": ":x:",
    "cancelled": ":no_entry_sign:",
    "timed_out": ":alarm_clock:",
}


_JSON_BLOCK = re.compile(r"\s*```json\s.*?```\s*", re.DOTALL)


def _diff_reference(result: dict[str, Any]) -> tuple[str | None, str | None]:
    """(a URL for the diff or branch, a line naming the diff artifact), when there is one."""
    url = result.get("diff_url") or result.get("pull_request_url") or result.get("branch_url")
    artifact = result.get("diff_artifact_id")
    if artifact is None:
        for item in result.get("artifacts") or []:
            if isinstance(item, dict) and "diff" in str(item.get("name", "")).lower():
                artifact = item.get("id")
                break
    line = None
    if artifact:
        base = os.environ.get("AUTODEV_RESULTS_URL", "").rstrip("/")
        if base and not url:
            url = f"{base}/results/{artifact}"
        line = f"Diff: artifact `{artifact}` (`autodev workflow result {artifact}`)"
    if result.get("branch"):
        line = f"Branch: `{result['branch']}`" + (f" · {line}" if line else "")
    if result.get("pull_request_error"):
        line = (line + " · " if line else "") + f"No pull request: {result['pull_request_error']}"
    for conflict in result.get("conflicts") or []:
        if isinstance(conflict, dict):
            files = ", ".join(f"`{name}`" for name in conflict.get("files") or [])
            line = (line + "\n" if line else "") + (
                f":warning: Not merged: {conflict.get('step')} conflicts in {files}; "
                f"its changes are on `{conflict.get('branch')}`"
            )
    return (str(url) if url else None), line


def result_blocks(envelope: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """``(fallback text, blocks)`` for a delivery envelope (see results._envelope)."""
    data = envelope["data"]
    result: dict[str, Any] = data.get("result") or {}
    status, target, kind = data["status"], data["target_id"], data["target_kind"]
    icon = _ICONS.get(status, ":information_source:")
    name = result.get("template") or result.get("task_type") or kind
    title = f"{name} {status.replace('_', ' ')}"
    # The answer's closing JSON block is for the workflow (its fields are in the result); a
    # person reads the words.
    summary = _JSON_BLOCK.sub("", str(result.get("summary") or result.get("message") or ""))
    summary = summary.strip()
    error = result.get("error")
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"{title}", 150)),
        SectionBlock(text=MarkdownTextObject(text=f"{icon} *{title}* — `{target}`")),
    ]
    if summary:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(summary))))
    if error:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(f"*Error:* {error}"))))
    url, reference = _diff_reference(result)
    if reference:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(reference, 1900))]))
    facts = []
    if result.get("cost_usd") is not None:
        facts.append(f"cost ${float(result['cost_usd']):.2f}")
    if result.get("files_modified"):
        facts.append(f"{result['files_modified']} files changed")
    facts.append(f"result `{data['result_id']}`")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=" · ".join(facts))]))
    buttons: list[ButtonElement] = []
    if kind == "workflow":
        buttons.append(ButtonElement(text="View details", action_id=VIEW_DETAILS, value=target))
        buttons.append(ButtonElement(text="Retry", action_id=RETRY, value=target))
    if result.get("pull_request_url"):
        buttons.append(
            ButtonElement(
                text="Pull request", action_id=OPEN_PULL_REQUEST, url=result["pull_request_url"]
            )
        )
    if url:
        buttons.append(ButtonElement(text="View diff", action_id=OPEN_DIFF, url=url))
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    text = f"{title} ({target})" + (f": {summary}" if summary else "")
    return clip(text, 3000), [block.to_dict() for block in blocks]
