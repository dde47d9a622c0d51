"""A local worker's pid file (``LocalProcessLauncher.pids``) names the process by its start
mark: a worker caught mid-exec, whose command line /proc does not show yet, is still counted;
a later process that reused a dead worker's pid is not."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from autodev.config import load_settings
from autodev.orchestrator.launchers import LocalProcessLauncher


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[LocalProcessLauncher]:
    launcher = LocalProcessLauncher(load_settings(autodev_state_dir=tmp_path))
    # A stand-in worker: it waits until it is stopped.
    launcher.command = [sys.executable, "-c", "import time; time.sleep(300)"]
    yield launcher
    for child in LocalProcessLauncher._children:
        if child.args == launcher.command:
            child.kill()
            child.wait()


def test_a_worker_seen_mid_exec_keeps_its_pid_file(
    launcher: LocalProcessLauncher, monkeypatch: pytest.MonkeyPatch
) -> None:
    (pid,) = launcher.launch(1)
    # What /proc shows of a process between Popen's return and the new program's layout.
    monkeypatch.setattr(psutil.Process, "cmdline", lambda self: [])
    assert launcher.pids() == [int(pid)]
    assert (launcher.directory / f"{pid}.json").exists()


def test_a_later_process_with_a_dead_worker_s_pid_is_swept(launcher: LocalProcessLauncher) -> None:
    (pid,) = launcher.launch(1)
    pidfile = launcher.directory / f"{pid}.json"
    record = json.loads(pidfile.read_text())
    # The same pid, started at another moment: what a reused pid looks like.
    record["process"] = f"{pid}:t1"
    pidfile.write_text(json.dumps(record))
    assert launcher.pids() == []
    assert not pidfile.exists()


def test_a_worker_that_ended_is_swept(launcher: LocalProcessLauncher) -> None:
    (pid,) = launcher.launch(1)
    process = psutil.Process(int(pid))
    process.kill()
    process.wait(timeout=10)
    assert launcher.pids() == []
    assert not (launcher.directory / f"{pid}.json").exists()
