"""Shared terminal output: tables and one-line notices, through rich."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

console = Console(highlight=False)


__all__ = ["console", "escape", "print_table"]


def print_table(
    title: str | None, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    table = Table(title=title, show_lines=False, title_justify="left")
    for index, column in enumerate(columns):
        # The first column names the row (a template, a worker, a time): on a narrow terminal
        # it stays whole, since a person reads or types it, and the others wrap instead; a
        # word too long for its column is folded onto the next line, never cut with "…".
        table.add_column(column, no_wrap=index == 0, overflow="fold")
    for row in rows:
        # Cells are data (a cause, a summary, a Slack message): printed as they are, never read
        # as rich markup, which would eat "[scripted model]" or choke on a stray "[/".
        table.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
    console.print(table)
