"""Block Kit messages, built with slack_sdk's models so Slack's limits are checked for us.

Every builder returns ``list[Block]``; ``as_dicts`` turns them into the JSON that
``chat.postMessage`` or a ``response_url`` takes. Buttons carry only ids that mean nothing
outside autodev (an approval id, a workflow id) — never a Step Functions task token.
Other components (progress, callbacks, request_approval) use these builders too.
"""

from __future__ import annotations

import re
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


def execution_link_text(url: str) -> str:
    """How a link to an execution reads: in the AWS console, or on the local Slack page."""
    return (
        "execution in the AWS console"
        if ".console.aws.amazon.com/" in url
        else "execution on the local page"
    )


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


def status_card(
    workflow: WorkflowView, now: datetime | None = None, *, cancel: bool = True
) -> list[Block]:
    """Steps with icons, the current step, elapsed time and a link to the execution.

    ``cancel=False`` for a card posted in a channel that is not edited as the workflow runs
    (a reply in its thread): it would keep its Cancel button after the workflow ended. The
    workflow's live status message (``autodev.progress``) is the one that offers Cancel, and
    it loses the button when the workflow ends."""
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
        facts.append(f"<{workflow.console_url}|{execution_link_text(workflow.console_url)}>")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(" · ".join(facts)))]))
    if workflow.error:
        blocks.extend(notice(f":warning: {workflow.error}"))
    if workflow.deliveries:
        blocks.extend(notice(deliveries_text(workflow.deliveries)))
    buttons = [ButtonElement(text="View details", action_id=VIEW_DETAILS, value=workflow.id)]
    if workflow.status not in FINISHED:
        if cancel:
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


@dataclass(frozen=True)
class ValidationView:
    """How the validation before an approval went (autodev.workflows.ValidationSummary)."""

    passed: bool
    outcome: str
    figures: Sequence[str] = ()
    problems: Sequence[str] = ()
    test_failures: Sequence[str] = ()
    note: str | None = None  # what was checked, e.g. "scripted model: metadata only"


@dataclass(frozen=True)
class ApprovalView:
    """What an approval card shows: the request, and once closed, who closed it and when."""

    id: str
    workflow_id: str
    template: str
    execution_name: str
    question: str
    what: str  # one line: what happens if approved
    status: str = "pending"  # pending, approved, rejected, expired, cancelled
    target: str | None = None  # the target org, for the card's title
    facts: Sequence[tuple[str, str]] = ()  # (label, value) shown as fields
    components: Sequence[str] = ()
    more_components: int = 0
    validation: ValidationView | None = None
    requested_by: str | None = None
    expires_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    comment: str | None = None
    details_url: str | None = None
    approvers: Sequence[str] = ()
    where_note: str | None = None  # why the card is where it is, when that is not obvious


_DECISIONS = {
    "approved": (":white_check_mark:", "Approved"),
    "rejected": (":no_entry:", "Rejected"),
    "expired": (":alarm_clock:", "Expired"),
    "cancelled": (":no_entry_sign:", "Cancelled"),
}
_SLACK_USER = re.compile(r"^(?:slack:)?([UW][A-Z0-9]{2,})$")


def person(who: str | None) -> str:
    """A Slack user as a mention; anyone else (``cli:alice``, a role) by name."""
    if not who:
        return "someone"
    match = _SLACK_USER.match(who)
    return f"<@{match.group(1)}>" if match else f"`{who}`"


def moment(when: datetime | None) -> str:
    """``2024-05-01 14:02 UTC``: the same for every reader, wherever they are."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if when else "—"


def _approval_title(approval: ApprovalView) -> str:
    target = f" to {approval.target}" if approval.target else ""
    if approval.status == "pending":
        return f"Approval needed: {approval.template}{target}"
    word = _DECISIONS.get(approval.status, ("", approval.status))[1]
    return f"{word}: {approval.template}{target}"


def decision_line(approval: ApprovalView) -> str:
    """Who decided (or that it expired) and when, with the comment."""
    icon, word = _DECISIONS.get(approval.status, (":grey_question:", approval.status))
    when = moment(approval.decided_at)
    if approval.status == "expired":
        line = f"{icon} *{word}* at {when}: nobody answered in time; nothing was deployed."
    elif approval.status == "cancelled":
        who = person(approval.decided_by)
        line = f"{icon} *{word}* by {who} at {when}: the workflow was cancelled."
    else:
        line = f"{icon} *{word}* by {person(approval.decided_by)} at {when}"
    if approval.comment:
        line += f" — “{approval.comment}”"
    return line


def approval_card(approval: ApprovalView) -> list[Block]:
    """The approval card: what will happen, the validation in words and figures, who asked,
    when it expires and a link to the details; Approve / Reject buttons (whose value is the
    opaque approval id) while it waits, the decision once it is closed."""
    blocks: list[Block] = [HeaderBlock(text=clip(_approval_title(approval), 150))]
    if approval.status != "pending":
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(decision_line(approval)))))
    name = approval.execution_name or approval.workflow_id
    asked = f"{person(approval.requested_by)} asks to {approval.what}."
    blocks.append(
        SectionBlock(
            text=MarkdownTextObject(text=clip(f"{asked}\nWorkflow *{approval.template}* `{name}`")),
            fields=[
                MarkdownTextObject(text=clip(f"*{label}*\n{value}", 2000))
                for label, value in list(approval.facts)[:10]
            ]
            or None,
        )
    )
    check = approval.validation
    if check is not None:
        verdict = (
            ":white_check_mark: *Validation passed*" if check.passed else ":x: *Validation failed*"
        )
        line = f"{verdict} — {check.outcome}"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(line))))
        context = " · ".join(check.figures)
        if check.note:
            context = f"{context} · {check.note}" if context else check.note
        if context:
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(context, 2000))]))
        listed = [*check.problems, *check.test_failures]
        if listed:
            lines = [f"• {item}" for item in listed[:5]]
            if len(listed) > 5:
                lines.append(f"… and {len(listed) - 5} more")
            blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines)))))
    if approval.components:
        names = ", ".join(f"`{c}`" for c in approval.components)
        more = f" and {approval.more_components} more" if approval.more_components else ""
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=clip(f"*Components:* {names}{more}")))
        )
    links = []
    if approval.details_url:
        links.append(f"<{approval.details_url}|{execution_link_text(approval.details_url)}>")
    links.append(f"approval `{approval.id}`")
    if approval.status == "pending":
        who = ", ".join(person(u) for u in approval.approvers) or "an authorised approver"
        links.append(f"waiting for {who}")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(" · ".join(links), 2000))]))
    if approval.where_note:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(approval.where_note))]))
    if approval.status == "pending":
        blocks.append(
            ActionsBlock(
                block_id=f"approval:{approval.id}",
                elements=[
                    ButtonElement(
                        text="Approve", action_id=APPROVE, value=approval.id, style="primary"
                    ),
                    ButtonElement(
                        text="Reject", action_id=REJECT, value=approval.id, style="danger"
                    ),
                    ButtonElement(
                        text="View details", action_id=VIEW_DETAILS, value=approval.workflow_id
                    ),
                ],
            )
        )
    return blocks


def approval_text(approval: ApprovalView) -> str:
    """Plain text of the card, for notifications."""
    if approval.status == "pending":
        return f"Approval needed: {approval.what} ({approval.execution_name})"
    plain = re.sub(r"[*`]", "", decision_line(approval))
    return f"{plain} ({approval.execution_name})"


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
