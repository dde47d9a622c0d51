"""The background local stack killed with SIGKILL while a worker runs a task, then started again.

The worker it started notices and stops (nobody is left to report to); the new stack's engine
knows none of the old executions, so it fails their workflows with a clear cause and cancels
their tasks at start-up; `workflow status` and `workflow result` say so instead of "running"
forever and "no result (yet)".
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from autodev.local.state import read_state
from autodev.local.testing import wait_for

pytestmark = pytest.mark.slow

AUTODEV = [sys.executable, "-c", "from autodev.cli import main; main()"]


def run(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*AUTODEV, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if ok:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def env(database: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    values = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    values.update(
        DATABASE_URL=database,
        AUTODEV_STATE_DIR=str(tmp_path / "state"),
        # Workers that take their time without Claude Code: the echo runner, 10 minutes a task.
        AUTODEV_WORKER_MODULE="autodev.local.echo",
        AUTODEV_ECHO_SECONDS="600",
        COLUMNS="200",
    )
    try:
        yield values
    finally:
        run(values, "local", "down")  # DATABASE_URL is the test's: only the stack stops


def _workers(state_dir: Path) -> list[int]:
    return [int(p.stem) for p in (state_dir / "workers").glob("*.json")]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_killed_stack_strands_nothing(env: dict[str, str]) -> None:
    state_dir = Path(env["AUTODEV_STATE_DIR"])
    run(env, "local", "up")
    stack = read_state(state_dir)
    assert stack is not None
    started = run(
        env, "workflow", "start", "bug-fix", "--input", json.dumps({"description": "NPE"})
    )
    workflow_id = started.stdout.split()[3]

    # The scaler started a worker, which is running the first step.
    [worker] = wait_for(lambda: _workers(state_dir), timeout=60, what="a worker process")
    wait_for(
        lambda: "running" in run(env, "workflow", "status", workflow_id).stdout.split("\n")[0],
        what="the workflow to run",
    )

    os.kill(int(stack["pid"]), signal.SIGKILL)  # a crash: no chance to stop its workers
    wait_for(lambda: _gone(int(stack["pid"])), what="the stack to die")
    wait_for(lambda: _gone(worker), timeout=60, what="the worker to notice and stop")

    again = run(env, "local", "up")
    assert "1 workflow(s) left running by a previous local stack failed (ExecutionLost)" in (
        again.stdout
    )
    status = run(env, "workflow", "status", workflow_id)
    assert f"workflow {workflow_id} (bug-fix): failed" in status.stdout
    assert "ExecutionLost" in status.stdout
    result = run(env, "workflow", "result", workflow_id)
    assert f"of workflow {workflow_id}: failed" in result.stdout
    assert "execution no longer exists" in result.stdout
    assert _workers(state_dir) == []  # nothing was left to start a worker for
