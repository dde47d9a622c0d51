"""`autodev webhook`: placeholder until its issue lands; registers nothing yet."""

import typer


def register(app: typer.Typer) -> None:
    del app
