"""`autodev orchestrator`: workers running and their tasks, queue depth, recent failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import typer

from autodev.cli.output import console, print_table
from autodev.durations import format_duration


def _age(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return format_duration((datetime.now(UTC) - moment).total_seconds())


def _oldest(seconds: float | None) -> str:
    return "none" if seconds is None else format_duration(seconds)


def _one_line(text: str | None, limit: int = 70) -> str:
    line = (text or "").strip().replace("\n", " ")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def show(data: dict[str, Any]) -> None:
    workers = data["workers"]
    print_table(
        f"Workers running: {len(workers)}",
        ["worker", "launcher", "status", "task", "step", "for", "done", "failed"],
        [
            [
                w["id"],
                w["launcher"],
                w["status"],
                str(w["current_task_id"])[:8] if w["current_task_id"] else "",
                w["step_name"] or "",
                _age(w["task_started_at"]) if w["current_task_id"] else "",
                w["tasks_done"],
                w["tasks_failed"],
            ]
            for w in workers
        ],
    )
    depth = data["queue"]
    queued = depth["queued"]
    print_table(
        "Queue",
        [*queued.keys(), "queued", "running", "oldest queued"],
        [
            [
                *queued.values(),
                sum(queued.values()),
                depth["running"],
                _oldest(depth["oldest_queued_seconds"]),
            ]
        ],
    )
    failures = data["recent_failures"]
    print_table(
        "Recent failures",
        ["when", "task", "step", "status", "error", "cause"],
        [
            [
                _age(f["finished_at"]) + " ago" if f["finished_at"] else "",
                f["id"][:8],
                f["step_name"] or f["task_type"],
                f"{f['status']} ({f['attempts']} att.)",
                f["error_code"] or "",
                _one_line(f["last_error"]),
            ]
            for f in failures
        ],
    )
    if not failures:
        console.print("no failed tasks")


def register(app: typer.Typer) -> None:
    @app.command()
    def orchestrator(
        as_json: bool = typer.Option(False, "--json", help="Print the data as JSON."),
        failures: int = typer.Option(10, min=0, max=200, help="How many recent failures."),
    ) -> None:
        """Workers running and their tasks, queue depth by priority, recent failures."""
        from autodev.orchestrator.overview import overview

        data = overview(failures)
        if as_json:
            console.print_json(json.dumps(data, default=str))
        else:
            show(data)
