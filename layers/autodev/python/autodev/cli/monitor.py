"""`autodev monitor`: the monitoring dashboard (tasks, error rate, cost, alerts, health)."""

from __future__ import annotations

import json
from datetime import UTC

import typer

from autodev.cli.output import console, print_table
from autodev.durations import format_duration
from autodev.monitoring import Dashboard

WORKFLOW_ORDER = (
    "pending",
    "running",
    "waiting_approval",
    "succeeded",
    "failed",
    "cancelled",
    "timed_out",
)


def _percent(rate: float | None) -> str:
    return "none finished" if rate is None else f"{rate:.1%}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else format_duration(value)


def _health(board: Dashboard) -> None:
    print_table(
        "Health checks",
        ["check", "status", "ms", "detail"],
        [
            [
                c.name,
                "FAILING" if c.state == "failing" else c.state,
                f"{c.milliseconds:.0f}",
                c.detail,
            ]
            for c in board.health
        ],
    )


def show(board: Dashboard) -> None:
    tasks = board.tasks
    console.print(
        f"[bold]autodev, last {board.window_hours:g}h[/bold] "
        f"(since {board.since.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
    )
    if board.unavailable is not None:
        _health(board)
        return
    print_table(
        "Tasks",
        ["succeeded", "failed", "dead", "cancelled", "running", "queued", "error rate"],
        [
            [
                tasks.succeeded,
                tasks.failed,
                tasks.dead,
                tasks.cancelled,
                tasks.running,
                tasks.queued,
                _percent(board.error_rate),
            ]
        ],
    )
    if board.error_rate_alert:
        console.print(
            f"[bold red]ALERT[/bold red]: error rate {_percent(board.error_rate)} is above "
            f"the threshold {board.error_rate_threshold:.0%}"
        )
    durations = board.durations
    print_table(
        "Task attempts",
        ["attempts", "failed", "mean", "p95", "longest"],
        [
            [
                durations.attempts,
                durations.failed_attempts,
                _seconds(durations.mean_seconds),
                _seconds(durations.p95_seconds),
                _seconds(durations.longest_seconds),
            ]
        ],
    )
    scripted = f", ${board.scripted_cost_usd:.4f} of it scripted" if board.scripted_cost_usd else ""
    print_table(
        f"Usage by model (total ${board.cost_usd:.4f}{scripted}, {board.total_tokens:,} tokens)",
        ["model", "tasks", "input", "output", "cache read", "cache write", "cost (USD)"],
        [
            [
                u.label,
                u.tasks,
                f"{u.input_tokens:,}",
                f"{u.output_tokens:,}",
                f"{u.cache_read_tokens:,}",
                f"{u.cache_creation_tokens:,}",
                f"{u.cost_usd:.4f}",
            ]
            for u in board.usage
        ],
    )
    if any(u.scripted for u in board.usage):
        from autodev.monitoring.figures import SCRIPTED_NOTE

        console.print(SCRIPTED_NOTE)
    order = [s for s in WORKFLOW_ORDER if s in board.workflows]
    order += sorted(set(board.workflows) - set(order))
    if order:
        print_table("Workflows", order, [[board.workflows[s] for s in order]])
    else:
        console.print("no workflows in the window")
    if board.alerts:
        print_table(
            f"Open alerts: {board.open_alerts}",
            ["opened (UTC)", "severity", "type", "message"],
            [
                [
                    f"{a.created_at.astimezone(UTC):%Y-%m-%d %H:%M}",
                    a.severity,
                    a.alert_type,
                    a.message,
                ]
                for a in board.alerts
            ],
        )
    else:
        console.print("no open alerts")
    _health(board)


def register(app: typer.Typer) -> None:
    @app.command()
    def monitor(
        hours: float = typer.Option(
            24, "--hours", min=0.01, max=24 * 90, help="The window, in hours back from now."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the data as JSON."),
    ) -> None:
        """The monitoring dashboard: tasks, error rate, tokens and cost by model, alerts, health.

        When the database is down it shows the health checks, then fails with one line."""
        from autodev.db import DatabaseUnavailable
        from autodev.monitoring import dashboard

        board = dashboard(hours)
        if as_json:
            console.print_json(json.dumps(board.to_dict(), default=str))
        else:
            show(board)
        if board.unavailable is not None:
            raise DatabaseUnavailable(f"no figures: {board.unavailable}")
