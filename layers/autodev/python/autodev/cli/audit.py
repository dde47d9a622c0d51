"""`autodev audit`: the latest audit events."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from autodev import audit
from autodev.cli.output import print_table
from autodev.config import settings_or_exit


def audit_command(
    limit: Annotated[int, typer.Option(help="How many events to show.")] = 30,
    target: Annotated[str | None, typer.Option(help="Only events about this target.")] = None,
) -> None:
    """Show the latest audit events, newest first."""
    settings_or_exit()
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


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_command)
