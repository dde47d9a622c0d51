"""`autodev audit`: the latest audit events, or one workflow's (or schedule's) trail."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Annotated

import typer

from autodev import audit
from autodev.cli.output import print_table
from autodev.config import settings_or_exit


def audit_command(
    limit: Annotated[int, typer.Option(help="How many events to show.")] = 30,
    target: Annotated[str | None, typer.Option(help="Only events about this target.")] = None,
    workflow: Annotated[
        str | None,
        typer.Option(
            "--workflow",
            help="Who started, approved, rejected, cancelled and scheduled this workflow, and"
            " when: its id, execution name or short id (or a schedule's id or name).",
        ),
    ] = None,
) -> None:
    """Show the latest audit events, newest first; with --workflow, that workflow's trail."""
    settings_or_exit()
    if workflow is not None:
        _trail(workflow)
        return
    events = audit.recent(limit=limit, target=target)
    print_table(
        "audit log",
        ("time", "actor", "action", "target", "detail"),
        (
            (
                e["occurred_at"].isoformat(timespec="seconds"),
                e["actor"],
                e["action"],
                e["target"] or "",
                json.dumps(e["detail"], sort_keys=True)[:80],
            )
            for e in events
        ),
    )


def _trail(ref: str) -> None:
    title, events = audit.trail_for(ref)
    print_table(
        f"audit trail of {title}",
        ("time (UTC)", "who", "what"),
        (
            (e.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.describe())
            for e in events
        ),
    )


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_command)
