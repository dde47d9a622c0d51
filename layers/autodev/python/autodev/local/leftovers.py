"""Processes that outlived the command that started them: an embedded Postgres left running.

No process may outlive the command that started it, except the documented background stack
(``autodev local up`` until ``autodev local down``). ``python -m autodev.local.leftovers
[STATE_DIR ...]`` (default: ``AUTODEV_STATE_DIR``) lists the Postgres servers still running on
those state directories' data, and exits 1 if there is one that no background stack holds;
``make demo`` runs it after the demo.
"""

from __future__ import annotations

import sys
from pathlib import Path

from autodev.db.embedded import pgdata_dir


def postgres_servers(state_dir: Path) -> list[tuple[int, str]]:
    """(pid, command line) of every Postgres server running on ``state_dir``'s data."""
    import psutil

    data = str(pgdata_dir(state_dir))
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if cmdline and Path(cmdline[0]).name == "postgres" and data in cmdline:
            found.append((int(process.info["pid"]), " ".join(cmdline)))
    return found


def leftovers(state_dir: Path) -> list[tuple[int, str]]:
    """The Postgres servers on ``state_dir`` that nothing documented keeps running."""
    from autodev.local.state import running_state

    if running_state(state_dir) is not None:
        return []  # the background stack (autodev local up) holds it until local down
    return postgres_servers(state_dir)


def main(argv: list[str] | None = None) -> int:
    from autodev.config import get_settings

    given = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    found = [
        (directory, pid, cmdline)
        for directory in given or [get_settings().autodev_state_dir]
        for pid, cmdline in leftovers(directory)
    ]
    for directory, pid, cmdline in found:
        print(f"left running on {directory}: pid {pid}: {cmdline}", file=sys.stderr)
    if found:
        print("a process outlived the command that started it", file=sys.stderr)
        return 1
    print("no embedded Postgres was left running")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
