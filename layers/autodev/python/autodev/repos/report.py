"""The pull request a workflow opens: its title and body (the workflow's report, with links
to its Slack thread and its execution)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autodev.observability import best_effort_failed, child_logger

log = child_logger(__name__)

_TITLE_LIMIT = 120
_ASKED_LIMIT = 500  # what was asked, quoted on one line
_STEP_LINE_LIMIT = 300
_BODY_LIMIT = 60_000  # GitHub takes 65,536 characters


@dataclass(frozen=True)
class WorkflowReport:
    """What the workflow package knows about a finished workflow, for its pull request."""

    workflow_id: str
    template_title: str
    execution_name: str
    execution_url: str | None
    requested_by: str
    request: str  # what was asked, in the requester's words (the free-text input field)
    summary: str  # the workflow's report (the last step's answer)
    steps: Sequence[tuple[str, str]]  # (step, first line of its answer), in order
    slack_channel: str | None = None
    slack_thread_ts: str | None = None


def slack_thread_link(channel: str | None, thread_ts: str | None) -> str | None:
    """The permalink of the workflow's Slack thread (best effort: None if Slack says no)."""
    if not channel or not thread_ts:
        return None
    try:
        from autodev.slack.client import web_client

        answer = web_client().chat_getPermalink(channel=channel, message_ts=thread_ts)
        return str(answer["permalink"])
    except Exception:
        best_effort_failed("slack_permalink", log, channel=channel)
        return None


def _first_line(text: str, limit: int) -> str:
    cleaned = re.sub(r"\s*```.*?```", "", text, flags=re.DOTALL).strip()
    line = cleaned.splitlines()[0] if cleaned else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def title(report: WorkflowReport) -> str:
    about = _first_line(report.request, _TITLE_LIMIT) or report.execution_name
    return f"[autodev] {report.template_title}: {about}"[:_TITLE_LIMIT]


def body(
    report: WorkflowReport,
    *,
    repository: str,
    ref: str,
    base_commit: str,
    conflicts: Sequence[Mapping[str, Any]],
) -> str:
    thread = slack_thread_link(report.slack_channel, report.slack_thread_ts)
    summary = re.sub(r"\s*```json.*?```", "", report.summary, flags=re.DOTALL).strip()
    asked = " ".join(report.request.split())
    lines = [
        f"## {report.template_title}",
        "",
        *([f"> {asked[:_ASKED_LIMIT]}", ""] if asked else []),
        summary or "(the workflow gave no report)",
        "",
        "### Steps",
        *(f"- **{step}**: {_first_line(text, _STEP_LINE_LIMIT)}" for step, text in report.steps),
    ]
    if conflicts:
        lines += ["", "### Not merged (conflicts)"]
        lines += [
            f"- {c['step']}: conflicts in {', '.join(f'`{f}`' for f in c['files'])}; "
            f"its changes are on `{c['branch']}`"
            for c in conflicts
        ]
    lines += [
        "",
        "---",
        f"- Workflow: `{report.execution_name}`"
        + (f" ([execution]({report.execution_url}))" if report.execution_url else ""),
        f"- Slack thread: {thread}" if thread else "- Slack thread: none (started outside Slack)",
        f"- Requested by: {report.requested_by}",
        f"- Started from `{ref}` of {repository} ({base_commit[:12]})",
        "",
        "Opened by autodev. Review it as you would a colleague's: the changes were made by an "
        "AI agent.",
    ]
    return "\n".join(lines)[:_BODY_LIMIT]
