"""A local worker's pid file (``LocalProcessLauncher.pids``): a worker caught mid-exec, whose
command line /proc does not show yet, is still counted; a later process that reused a dead
worker's pid is not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from autodev.config import load_settings
from autodev.orchestrator.launchers import LocalProcessLauncher


@pytest.fixture
def process() -> Iterator[subprocess.Popen[bytes]]:
    # Lives until its input closes: when the test's process goes, it goes too.
    reads = [sys.executable, "-c", "import sys; sys.stdin.read()"]
    child = subprocess.Popen(reads, stdin=subprocess.PIPE)
    yield child
    child.kill()
    child.wait()


@pytest.fixture
def launcher(tmp_path: Path) -> LocalProcessLauncher:
    return LocalProcessLauncher(load_settings(autodev_state_dir=tmp_path))


def _pidfile(launcher: LocalProcessLauncher, pid: int) -> Path:
    launcher.directory.mkdir(parents=True, exist_ok=True)
    path = launcher.directory / f"{pid}.json"
    path.write_text(json.dumps({"pid": pid, "command": launcher.command}))
    return path


def _mid_exec(monkeypatch: pytest.MonkeyPatch) -> None:
    """What /proc shows of a process between Popen's return and the new program's layout."""
    monkeypatch.setattr(psutil.Process, "cmdline", lambda self: [])


@pytest.mark.parametrize(
    ("pidfile_age_seconds", "counted"),
    [
        (0, True),  # written after the worker started, as ``launch`` writes it
        (3600, False),  # older than the process: a later one reused a dead worker's pid
    ],
)
def test_a_process_seen_mid_exec_is_a_worker_only_if_no_younger_than_its_pid_file(
    launcher: LocalProcessLauncher,
    process: subprocess.Popen[bytes],
    monkeypatch: pytest.MonkeyPatch,
    pidfile_age_seconds: float,
    counted: bool,
) -> None:
    pidfile = _pidfile(launcher, process.pid)
    written = pidfile.stat().st_mtime - pidfile_age_seconds
    os.utime(pidfile, (written, written))
    _mid_exec(monkeypatch)
    assert launcher.pids() == ([process.pid] if counted else [])
    assert pidfile.exists() == counted


def test_a_process_running_another_command_is_swept(
    launcher: LocalProcessLauncher, process: subprocess.Popen[bytes]
) -> None:
    pidfile = _pidfile(launcher, process.pid)
    assert launcher.pids() == []  # it runs python -c, not the worker
    assert not pidfile.exists()
