"""The database goes down, for longer than the lease, while a worker finishes a step.

A real worker process (functions/claude_worker/main.py, started by the local launcher) runs
the real Claude Code CLI on the scripted model server, against a Postgres server of this
test's own. The session waits (a Bash command in the task's own script) until the test has
stopped the database; then it finishes, and the worker holds a result it cannot record. The
database stays down past the lease, comes back, and the rescuer runs as it does on the local
stack. The step must be recorded once, by that worker, and Claude Code must have run once.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from autodev.config import get_settings
from autodev.local.model.server import ScriptedModelServer
from autodev.local.testing import wait_for
from autodev.orchestrator import queue, rescuer
from autodev.orchestrator.launchers import LocalProcessLauncher
from autodev.orchestrator.queue import TaskSpec
from tests.integration.stoppable_postgres import StoppablePostgres

LEASE_SECONDS = 2.0
RELEASE = "release-the-session"
KEEPS_IT = "the outcome is kept and recorded when the database answers"
CRASHED = "the worker stopped on an unexpected error"

pytestmark = pytest.mark.slow


@pytest.fixture
def launcher(
    stoppable_database: StoppablePostgres,
    scripted_model: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LocalProcessLauncher]:
    monkeypatch.setenv("AUTODEV_MODEL_PROVIDER", "scripted")
    monkeypatch.setenv("ORCHESTRATOR_LEASE_SECONDS", str(LEASE_SECONDS))
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "3000")
    monkeypatch.delenv("AUTODEV_WORKER_MODULE", raising=False)  # the Claude Code worker
    get_settings.cache_clear()
    started = LocalProcessLauncher(get_settings())
    yield started
    for pid in started.pids():  # anything still up after the test: stop it
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


def _worker_log() -> str:
    logs = sorted((get_settings().autodev_state_dir / "logs").glob("worker-*.log"))
    return "\n".join(path.read_text(errors="replace") for path in logs)


def test_a_step_finished_while_the_database_is_down_is_recorded_once_it_is_back(
    launcher: LocalProcessLauncher,
    stoppable_database: StoppablePostgres,
    scripted_model: ScriptedModelServer,
) -> None:
    session = [
        {
            "text": "Waiting for the signal.",
            "tool_calls": [
                {
                    "name": "Bash",
                    # The task's own directory, beside its repository (so not in its diff).
                    "input": {
                        "command": f"until [ -e {{workspace}}/../{RELEASE} ]; do sleep 0.1; done",
                        "description": "Wait for the signal",
                    },
                }
            ],
        },
        {"text": "[scripted model] Done, once."},
    ]
    task_id = queue.submit_task(
        TaskSpec(
            task_type="analysis",
            prompt="Finish while the database is down",
            allowed_tools=("Bash",),
            context={"files": {"README.md": "hello\n"}, "scripted_session": session},
        )
    )
    launcher.launch(1)
    # Claude Code has its first answer (the script was read from the database): the session
    # runs its command now, and needs the database no more.
    wait_for(
        lambda: (stats := scripted_model.task_stats(task_id)) and stats.turns_served,
        timeout=120,
        what="Claude Code to start the session",
    )
    stoppable_database.stop()
    stopped_at = time.monotonic()
    workspace = get_settings().workspace_root / f"{task_id}-1"
    Path(workspace / RELEASE).touch()
    wait_for(
        lambda: (stats := scripted_model.task_stats(task_id)) and len(stats.turns_served) == 2,
        timeout=120,
        what="Claude Code to finish the session",
    )
    # The worker has tried to record the result and found the database down (it says so in
    # its log: that it keeps the result, or, as it once did, that it stopped on the error).
    wait_for(
        lambda: any(line in _worker_log() for line in (KEEPS_IT, CRASHED)),
        timeout=120,
        what="the worker to try to record the result",
    )
    # Down for longer than the lease: the lease has lapsed by the database's clock.
    wait_for(
        lambda: time.monotonic() - stopped_at > 3 * LEASE_SECONDS,
        timeout=60,
        what="the lease to lapse",
    )
    stoppable_database.start()

    requeued: list[str] = []

    def recorded() -> bool:
        # As on the local stack: rescue, then start workers for what is queued.
        report = rescuer.rescue_once(launcher=launcher)
        requeued.extend(report["requeued"])
        return queue.get_task_status(task_id).status != "running"

    wait_for(recorded, timeout=120, interval=0.5, what="the outcome to be recorded")
    status = queue.get_task_status(task_id)
    assert status.status == "succeeded", status.last_error
    assert status.attempts == 1
    assert requeued == []  # the rescuer never took the task from its live worker
    assert status.result is not None
    assert "Done, once." in status.result["summary"]
    stats = scripted_model.task_stats(task_id)
    assert stats is not None
    assert stats.runs == 1  # Claude Code ran once
    # The worker recorded it through its own pool once the database was back, and then went
    # on as usual: idle, it exits without an error.
    wait_for(lambda: launcher.running() == 0, timeout=60, what="the worker to exit")
    log = _worker_log()
    assert KEEPS_IT in log
    assert "the outcome is recorded (try" in log
    assert "exits: idle" in log
    assert CRASHED not in log
