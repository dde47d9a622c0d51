"""`autodev migrate up|down [--steps N]|status`."""

from __future__ import annotations

from typing import Annotated

import typer

from autodev.cli.output import console, print_table
from autodev.config import settings_or_exit
from autodev.db.migrate import Migrator

migrate_app = typer.Typer(
    help="Apply, revert and list the database migrations.", no_args_is_help=True
)


@migrate_app.command("up")
def up() -> None:
    """Apply every pending migration."""
    applied = Migrator(settings_or_exit()).up()
    if not applied:
        console.print("migrations: nothing pending")
    for migration in applied:
        console.print(f"applied {migration.label}")


@migrate_app.command("down")
def down(
    steps: Annotated[
        int | None, typer.Option(help="Revert only the last N migrations (default: all).")
    ] = None,
) -> None:
    """Revert migrations, newest first: all of them (a reset) unless --steps is given."""
    reverted = Migrator(settings_or_exit()).down(steps)
    if not reverted:
        console.print("migrations: nothing to revert")
    for migration in reverted:
        console.print(f"reverted {migration.label}")


@migrate_app.command("status")
def status() -> None:
    """Show each migration as applied or pending."""
    states = Migrator(settings_or_exit()).status()
    print_table(
        "migrations",
        ("version", "name", "state", "applied at"),
        (
            (
                f"{s.migration.version:04d}",
                s.migration.name,
                "applied" if s.applied else "pending",
                s.applied_at.isoformat(timespec="seconds") if s.applied_at else "",
            )
            for s in states
        ),
    )
    pending = sum(1 for s in states if not s.applied)
    console.print(f"{len(states) - pending} applied, {pending} pending")


def register(app: typer.Typer) -> None:
    app.add_typer(migrate_app, name="migrate")
