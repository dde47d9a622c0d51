"""Block Kit for ``/monitor`` (the monitoring dashboard) and ``/orchestrator`` (workers, queue).

Built with slack_sdk's models, like ``autodev.slack.views``; the data comes from
``autodev.monitoring.dashboard`` and ``autodev.orchestrator.overview.overview`` through
``autodev.slack.platform``. Lists are cut short: a Slack message is read at a glance, and
``autodev monitor`` / ``autodev orchestrator`` show everything in a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from autodev.durations import format_duration
from autodev.slack.views import clip

if TYPE_CHECKING:
    from autodev.monitoring import Dashboard

SHOWN = 5  # rows of a list (models, alerts, workers, failures) shown in Slack
_SEVERITY_ICONS = {
    "critical": ":rotating_light:",
    "warning": ":warning:",
    "info": ":information_source:",
}


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text)))


def _fields(pairs: Sequence[tuple[str, object]]) -> SectionBlock:
    return SectionBlock(fields=[MarkdownTextObject(text=f"*{k}*\n{v}") for k, v in pairs])


def _more(total: int, shown: int) -> list[str]:
    return [f"_and {total - shown} more_"] if total > shown else []


def _percent(rate: float) -> str:
    return f"{rate:.1%}"


# --- /monitor ---


def _error_rate_line(board: Dashboard) -> str:
    threshold = _percent(board.error_rate_threshold)
    if board.error_rate is None:
        return f":white_circle: No task finished in the window (alert threshold {threshold})."
    if board.error_rate_alert:
        return (
            f":rotating_light: Error rate *{_percent(board.error_rate)}* is above the"
            f" {threshold} threshold ({board.tasks.errors} of {board.tasks.finished} tasks)."
        )
    return (
        f":white_check_mark: Error rate {_percent(board.error_rate)}"
        f" ({board.tasks.errors} of {board.tasks.finished} tasks; alert above {threshold})."
    )


def _usage_lines(board: Dashboard) -> list[str]:
    from autodev.monitoring.figures import SCRIPTED_NOTE

    scripted = (
        f" (${board.scripted_cost_usd:.2f} of it scripted)" if board.scripted_cost_usd else ""
    )
    lines = [f"*Usage by model* — ${board.cost_usd:.2f}{scripted}, {board.total_tokens:,} tokens"]
    lines += [
        f"• {u.label}: {u.tasks} task{'s' if u.tasks != 1 else ''},"
        f" {u.total_tokens:,} tokens, ${u.cost_usd:.4f}"
        for u in board.usage[:SHOWN]
    ]
    if any(u.scripted for u in board.usage):
        lines.append(f"_{SCRIPTED_NOTE}_")
    return lines + _more(len(board.usage), SHOWN)


def _attempts_line(board: Dashboard) -> str:
    d = board.durations
    if not d.attempts:
        return "*Task attempts*: none in the window"
    timing = ", ".join(
        f"{name} {format_duration(value)}"
        for name, value in (("mean", d.mean_seconds), ("p95", d.p95_seconds))
        if value is not None
    )
    return f"*Task attempts*: {d.attempts} ({d.failed_attempts} failed); {timing}"


def _alert_lines(board: Dashboard) -> list[str]:
    if not board.open_alerts:
        return ["*Open alerts*: none"]
    lines = [f"*Open alerts*: {board.open_alerts}"]
    lines += [
        f"{_SEVERITY_ICONS.get(a.severity, ':grey_question:')} {a.message}"
        f" _({a.alert_type}, {a.created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)_"
        for a in board.alerts[:SHOWN]
    ]
    return lines + _more(board.open_alerts, min(SHOWN, len(board.alerts)))


def _health_lines(board: Dashboard) -> list[str]:
    lines = ["*Health checks*"]
    icons = {"ok": ":white_check_mark:", "failing": ":x:", "skipped": ":white_circle:"}
    for check in board.health:
        icon = icons[check.state]
        detail = f" — {check.detail}" if check.detail else ""
        lines.append(f"{icon} {check.name} ({check.milliseconds:.0f} ms){clip(detail, 300)}")
    return lines


def monitor(board: Dashboard) -> list[Block]:
    if board.unavailable is not None:
        return [
            HeaderBlock(text=f"Monitoring — last {board.window_hours:g}h"),
            _section(f":x: No figures: {board.unavailable}"),
            _section("\n".join(_health_lines(board))),
        ]
    tasks = board.tasks
    workflows = " · ".join(
        f"{status.replace('_', ' ')} {n}" for status, n in board.workflows.items()
    )
    blocks: list[Block] = [
        HeaderBlock(text=f"Monitoring — last {board.window_hours:g}h"),
        _section(_error_rate_line(board)),
        _fields(
            [
                ("Succeeded", tasks.succeeded),
                ("Failed", tasks.failed),
                ("Dead", tasks.dead),
                ("Cancelled", tasks.cancelled),
                ("Running", tasks.running),
                ("Queued", tasks.queued),
            ]
        ),
    ]
    if board.usage:
        blocks.append(_section("\n".join(_usage_lines(board))))
    blocks.append(_section(_attempts_line(board)))
    blocks.append(_section(f"*Workflows*: {workflows or 'none in the window'}"))
    blocks.append(_section("\n".join(_alert_lines(board))))
    blocks.append(_section("\n".join(_health_lines(board))))
    blocks.append(
        ContextBlock(elements=[MarkdownTextObject(text="`autodev monitor --hours N` shows more.")])
    )
    return blocks


def monitor_text(board: Dashboard) -> str:
    """The notification text (and what clients without blocks show)."""
    if board.unavailable is not None:
        return f"Monitoring: no figures ({board.unavailable})"
    rate = (
        "no tasks finished"
        if board.error_rate is None
        else f"error rate {_percent(board.error_rate)}"
    )
    flag = " — above the threshold" if board.error_rate_alert else ""
    health = "" if board.healthy else ", a health check is failing"
    scripted = " (scripted)" if board.usage and all(u.scripted for u in board.usage) else ""
    return (
        f"Monitoring, last {board.window_hours:g}h: {rate}{flag},"
        f" ${board.cost_usd:.2f}{scripted}{health}"
    )


# --- /orchestrator ---


def _age(moment: datetime | None, now: datetime) -> str:
    return "" if moment is None else format_duration((now - moment).total_seconds())


def _worker_line(worker: Mapping[str, Any], now: datetime) -> str:
    line = f"`{worker['id']}` {worker['status']}"
    if worker.get("current_task_id"):
        step = worker.get("step_name") or worker.get("task_type") or "a task"
        line += f" — *{step}* for {_age(worker.get('task_started_at'), now)}"
    return f"• {line} (done {worker['tasks_done']}, failed {worker['tasks_failed']})"


def _failure_line(failure: Mapping[str, Any], now: datetime) -> str:
    when = _age(failure.get("finished_at"), now)
    step = failure.get("step_name") or failure.get("task_type")
    cause = " ".join(str(failure.get("last_error") or "").split())
    code = f"{failure['error_code']}: " if failure.get("error_code") else ""
    return clip(
        f"• {when + ' ago ' if when else ''}`{str(failure['id'])[:8]}` {step} —"
        f" {failure['status']} after {failure['attempts']} attempt(s); {code}{cause}",
        400,
    )


def orchestrator(data: Mapping[str, Any], now: datetime | None = None) -> list[Block]:
    """``data``: ``overview()`` plus ``max_instances``."""
    now = now or datetime.now(UTC)
    depth, workers = data["queue"], list(data["workers"])
    queued: Mapping[str, int] = depth["queued"]
    oldest = depth["oldest_queued_seconds"]
    by_priority = ", ".join(f"{p} {n}" for p, n in queued.items())
    summary = [
        f"• workers: {len(workers)} live of at most {data['max_instances']}",
        f"• running: {depth['running']}",
        f"• queued: {sum(queued.values())} ({by_priority})",
        f"• oldest queued: {'none' if oldest is None else format_duration(oldest)}",
    ]
    blocks: list[Block] = [HeaderBlock(text="Orchestrator"), _section("\n".join(summary))]
    if workers:
        lines = ["*Workers*", *(_worker_line(w, now) for w in workers[:SHOWN])]
        blocks.append(_section("\n".join(lines + _more(len(workers), SHOWN))))
    failures = list(data["recent_failures"])
    if failures:
        lines = ["*Recent failures*", *(_failure_line(f, now) for f in failures[:SHOWN])]
        blocks.append(_section("\n".join(lines)))
    else:
        blocks.append(_section("*Recent failures*: none"))
    blocks.append(
        ContextBlock(elements=[MarkdownTextObject(text="`autodev orchestrator` shows more.")])
    )
    return blocks


def orchestrator_text(data: Mapping[str, Any]) -> str:
    depth = data["queue"]
    return (
        f"Orchestrator: {len(data['workers'])} workers, {depth['running']} running,"
        f" {sum(depth['queued'].values())} queued"
    )
