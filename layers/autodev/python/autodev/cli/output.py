"""Shared terminal output: tables and one-line notices, through rich."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table

console = Console(highlight=False)


def print_table(
    title: str | None, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    table = Table(title=title, show_lines=False, title_justify="left")
    for index, column in enumerate(columns):
        # The first column names the row (a template, a worker, a time): on a narrow terminal
        # it stays whole, since a person reads or types it, and the others wrap instead.
        table.add_column(column, no_wrap=index == 0)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    console.print(table)
