"""No process outlives the command that started it: the embedded Postgres a command starts
stops when the last process using it exits, even after a process that held it was killed; only
the background stack of `autodev local up` keeps it, until `autodev local down`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from autodev.db import embedded
from autodev.local.leftovers import leftovers, postgres_servers

AUTODEV = [sys.executable, "-c", "from autodev.cli import main; main()"]


def _env(state_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "MOTO_")) and k not in ("DATABASE_URL",)
    }
    env.update(AUTODEV_STATE_DIR=str(state_dir), COLUMNS="200")
    return env


def _run(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*AUTODEV, *args],
        env=_env(state_dir),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_commands_leave_no_postgres_and_the_background_stack_keeps_it_until_down(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    migrated = _run(state, "migrate", "up")
    assert "applied" in migrated.stdout
    assert postgres_servers(state) == []
    assert not embedded.is_running(state)

    # A process that held the server and was killed (no exit hooks) leaves it running ...
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, pathlib, signal; from autodev.db import embedded;"
            f" embedded.embedded_url(pathlib.Path({str(state)!r}));"
            " os.kill(os.getpid(), signal.SIGKILL)",
        ],
        env=_env(state),
        timeout=120,
        check=False,
    )
    assert killed.returncode == -9
    assert postgres_servers(state)
    # ... until the next command that uses it exits: the dead holder does not count.
    _run(state, "migrate", "status")
    assert postgres_servers(state) == []

    _run(state, "local", "up")
    try:
        assert postgres_servers(state)  # held by the background stack ...
        assert leftovers(state) == []  # ... which is documented to keep it
        _run(state, "migrate", "status")
        assert postgres_servers(state)  # a command in between does not stop it
    finally:
        down = _run(state, "local", "down")
    assert "embedded Postgres stopped" in down.stdout
    assert postgres_servers(state) == []
