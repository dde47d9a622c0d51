"""Block Kit for ``/workflow schedule``, ``/workflow schedules`` and ``/workflow unschedule``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from autodev.slack.mentions import mention
from autodev.slack.views import clip

if TYPE_CHECKING:
    from autodev.schedules import Scheduled, ScheduledJob

SHOWN = 15


def _next(scheduled: Scheduled) -> str:
    upcoming = scheduled.next_run()
    if upcoming is None:
        return "done" if not scheduled.job.enabled else "never again"
    return f"{upcoming.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _input(job: ScheduledJob) -> str:
    if not job.input:
        return ""
    shown = ", ".join(f"{k}={v}" for k, v in sorted(job.input.items()))
    return f" · input {clip(shown, 200)}"


def created(scheduled: Scheduled) -> tuple[str, list[Block]]:
    job = scheduled.job
    text = (
        f":alarm_clock: Scheduled *{job.template}* {scheduled.expression.describe()}"
        f" as `{job.name}`; next run {_next(scheduled)}."
    )
    where = f"Runs are announced in <#{job.slack_channel}>" if job.slack_channel else "Runs"
    return text, [
        SectionBlock(text=MarkdownTextObject(text=clip(text))),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=clip(
                        f"{where}; remove it with `/workflow unschedule {job.name}`{_input(job)}",
                        2000,
                    )
                )
            ]
        ),
    ]


def listing(found: Sequence[Scheduled]) -> tuple[str, list[Block]]:
    if not found:
        text = "No schedules. `/workflow schedule <template> cron(...)` creates one."
        return text, [SectionBlock(text=MarkdownTextObject(text=text))]
    lines = [
        f"• `{s.job.name}` *{s.job.template}* {s.expression.describe()} — next {_next(s)},"
        f" {s.job.runs} run(s), by {mention(s.job.created_by)}{_input(s.job)}"
        for s in found[:SHOWN]
    ]
    more = (
        [f"_and {len(found) - SHOWN} more (`autodev workflow schedules`)_"]
        if len(found) > SHOWN
        else []
    )
    text = f"{len(found)} schedule(s)"
    return text, [
        SectionBlock(text=MarkdownTextObject(text=clip("\n".join([f"*{text}*", *lines, *more]))))
    ]


def removed(job: ScheduledJob, by: str) -> tuple[str, list[Block]]:
    text = f":wastebasket: {mention(by)} removed the schedule `{job.name}` ({job.template})."
    return text, [SectionBlock(text=MarkdownTextObject(text=clip(text)))]
