"""Block Kit messages, built with slack_sdk's models so Slack's limits are checked for us.

Every builder returns ``list[Block]``; ``as_dicts`` turns them into the JSON that
``chat.postMessage`` or a ``response_url`` takes. Buttons carry only ids that mean nothing
outside autodev (an approval id, a workflow id) — never a Step Functions task token.
Other components (progress, callbacks, request_approval) use these builders too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from autodev.durations import format_duration

# action_id of each button; the interactions handler dispatches on these.
APPROVE = "workflow_approve"
REJECT = "workflow_reject"
VIEW_DETAILS = "workflow_view"
CANCEL = "workflow_cancel"
RETRY = "workflow_retry"

STEP_ICONS = {
    "pending": ":white_circle:",
    "running": ":hourglass_flowing_sand:",
    "waiting_approval": ":raised_hand:",
    "succeeded": ":white_check_mark:",
    "failed": ":x:",
    "cancelled": ":no_entry_sign:",
    "timed_out": ":alarm_clock:",
    "skipped": ":fast_forward:",
}
STATUS_ICONS = {**STEP_ICONS, "pending": ":large_blue_circle:"}
FINISHED = frozenset({"succeeded", "failed", "cancelled", "timed_out"})
MAX_SECTION_CHARS = 2900  # Slack allows 3000 characters in a section's text


@dataclass(frozen=True)
class TemplateView:
    name: str
    description: str = ""
    steps: Sequence[str] = ()


@dataclass(frozen=True)
class StepView:
    name: str
    status: str = "pending"


@dataclass(frozen=True)
class DeliveryView:
    """One delivery of a workflow's result (autodev.callbacks.delivery_status)."""

    channel: str  # slack, webhook or event
    destination: str
    status: str  # pending, delivered or dead
    attempts: int = 0
    max_attempts: int | None = None
    last_error: str | None = None


DELIVERY_ICONS = {"pending": ":hourglass:", "delivered": ":white_check_mark:", "dead": ":x:"}


@dataclass(frozen=True)
class WorkflowView:
    """What a Slack message shows about one workflow."""

    id: str
    template: str
    status: str
    execution_name: str = ""
    console_url: str | None = None
    current_step: str | None = None
    steps: Sequence[StepView] = field(default_factory=tuple)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    summary: str | None = None
    error: str | None = None
    cost_usd: float | None = None
    requested_by: str | None = None
    slack_channel: str | None = None  # the thread the workflow's messages go to
    slack_thread_ts: str | None = None
    deliveries: Sequence[DeliveryView] = field(default_factory=tuple)


def as_dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    return [block.to_dict() for block in blocks]


def clip(text: str, limit: int = MAX_SECTION_CHARS) -> str:
    """The text cut to ``limit`` characters with an ellipsis: Slack refuses longer sections."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def elapsed(started: datetime | None, finished: datetime | None, now: datetime | None) -> str:
    """``1h 02m``, ``3m 05s`` or ``12s``; empty when the start is unknown."""
    if started is None:
        return ""
    end = finished or now or datetime.now(UTC)
    return format_duration(max(0, int((end - started).total_seconds())))


def notice(text: str) -> list[Block]:
    return [SectionBlock(text=MarkdownTextObject(text=clip(text)))]


def template_list(templates: Sequence[TemplateView]) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text="Workflow templates")]
    if not templates:
        return [*blocks, *notice("No workflow templates are installed.")]
    for template in templates:
        steps = " → ".join(template.steps)
        lines = [f"*{template.name}*"]
        if template.description:
            lines.append(template.description)
        if steps:
            lines.append(f"_{steps}_")
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines)))))
    blocks.append(
        ContextBlock(
            elements=[MarkdownTextObject(text="Start one with `/workflow start <template> ...`")]
        )
    )
    return blocks


def _title(workflow: WorkflowView) -> str:
    icon = STATUS_ICONS.get(workflow.status, ":grey_question:")
    status = workflow.status.replace("_", " ")
    return f"{icon} *{workflow.template}* `{workflow.execution_name or workflow.id}` — {status}"


def status_card(workflow: WorkflowView, now: datetime | None = None) -> list[Block]:
    """Steps with icons, the current step, elapsed time and a link to the execution."""
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=clip(_title(workflow))))]
    if workflow.steps:
        lines = [
            f"{STEP_ICONS.get(step.status, ':white_circle:')} {step.name}"
            + (" ← current" if step.name == workflow.current_step else "")
            for step in workflow.steps
        ]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines)))))
    facts = [f"id `{workflow.id}`"]
    if workflow.current_step and workflow.status not in FINISHED:
        facts.append(f"current step *{workflow.current_step}*")
    took = elapsed(workflow.started_at, workflow.finished_at, now)
    if took:
        facts.append(f"elapsed {took}")
    if workflow.cost_usd:
        facts.append(f"cost ${workflow.cost_usd:.2f}")
    if workflow.console_url:
        facts.append(f"<{workflow.console_url}|execution in the AWS console>")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(" · ".join(facts)))]))
    if workflow.error:
        blocks.extend(notice(f":warning: {workflow.error}"))
    if workflow.deliveries:
        blocks.extend(notice(deliveries_text(workflow.deliveries)))
    buttons = [ButtonElement(text="View details", action_id=VIEW_DETAILS, value=workflow.id)]
    if workflow.status not in FINISHED:
        buttons.append(
            ButtonElement(text="Cancel", action_id=CANCEL, value=workflow.id, style="danger")
        )
    elif workflow.status != "succeeded":
        buttons.append(ButtonElement(text="Retry", action_id=RETRY, value=workflow.id))
    blocks.append(ActionsBlock(elements=buttons))
    return blocks


def deliveries_text(deliveries: Sequence[DeliveryView]) -> str:
    """Where the result went: one line per delivery, with why a dead one gave up."""
    lines = ["*Result deliveries*"]
    for d in deliveries:
        tries = f"{d.attempts}/{d.max_attempts}" if d.max_attempts else str(d.attempts)
        line = (
            f"{DELIVERY_ICONS.get(d.status, ':grey_question:')} {d.channel} → {d.destination}:"
            f" {d.status} ({tries} attempts)"
        )
        if d.last_error and d.status != "delivered":
            line += f" — {'gave up: ' if d.status == 'dead' else 'last error: '}{d.last_error}"
        lines.append(clip(line, 500))
    return "\n".join(lines)


def approval_request(
    approval_id: str,
    workflow: WorkflowView,
    message: str,
    approvers: Sequence[str] = (),
) -> list[Block]:
    """Approve / Reject buttons whose value is the opaque approval id."""
    who = ", ".join(f"<@{user}>" for user in approvers) if approvers else "an authorised approver"
    text = (
        f":raised_hand: *Approval needed* for *{workflow.template}* "
        f"`{workflow.execution_name or workflow.id}`\n{message}"
    )
    return [
        SectionBlock(text=MarkdownTextObject(text=clip(text))),
        ContextBlock(elements=[MarkdownTextObject(text=f"Waiting for {who}.")]),
        ActionsBlock(
            block_id=f"approval:{approval_id}",
            elements=[
                ButtonElement(
                    text="Approve", action_id=APPROVE, value=approval_id, style="primary"
                ),
                ButtonElement(text="Reject", action_id=REJECT, value=approval_id, style="danger"),
                ButtonElement(text="View details", action_id=VIEW_DETAILS, value=workflow.id),
            ],
        ),
    ]


def approval_decided(
    workflow: WorkflowView | None, approved: bool, by: str, comment: str | None = None
) -> list[Block]:
    """What the approval card becomes once decided (no buttons left to click)."""
    verdict = ":white_check_mark: Approved" if approved else ":no_entry: Rejected"
    subject = ""
    if workflow is not None:
        subject = f" *{workflow.template}* `{workflow.execution_name or workflow.id}`"
    text = f"{verdict}{subject} by <@{by}>"
    if comment:
        text += f": {comment}"
    return notice(text)


def result_message(workflow: WorkflowView, now: datetime | None = None) -> list[Block]:
    """The final result: status card plus the summary (or error)."""
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"{workflow.template}: {workflow.status.replace('_', ' ')}", 150))
    ]
    if workflow.summary:
        blocks.extend(notice(workflow.summary))
    blocks.append(DividerBlock())
    blocks.extend(status_card(workflow, now))
    return blocks


def fallback_text(workflow: WorkflowView) -> str:
    """Plain text for notifications and clients that cannot show blocks."""
    return f"{workflow.template} {workflow.execution_name or workflow.id}: {workflow.status}"
