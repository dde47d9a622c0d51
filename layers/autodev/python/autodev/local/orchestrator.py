"""The orchestrator's part of the local stack: the rescuer loop, and stopping local workers.

In AWS the rescuer runs every minute on a schedule; here it runs every few seconds in the
local stack's process. Workers are started by the scaler function (poked by enqueue_task) as
local processes; when the stack stops, the workers it started are stopped too (SIGTERM, then
SIGKILL), since without the stack they could not report to Step Functions anyway.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from autodev.config import get_settings
from autodev.local.services import LocalService, RunningService, ThreadService
from autodev.orchestrator import rescuer
from autodev.orchestrator.launchers import LocalProcessLauncher

if TYPE_CHECKING:
    from autodev.local.stack import LocalStack

RESCUE_INTERVAL_SECONDS = 2.0


def stop_local_workers(grace_seconds: float = 5.0) -> int:
    """Stop every worker process this state directory knows of; returns how many."""
    import psutil

    launcher = LocalProcessLauncher(get_settings())
    processes = []
    for pid in launcher.pids():
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            process.terminate()
            processes.append(process)
    _, alive = psutil.wait_procs(processes, timeout=grace_seconds)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=5)
    launcher.pids()  # sweeps the pid files of the stopped workers
    return len(processes)


def _start(stack: LocalStack) -> RunningService:
    del stack
    thread, stop = rescuer.start_background(interval_seconds=RESCUE_INTERVAL_SECONDS)
    return ThreadService(thread, stop, after=stop_local_workers)


SERVICE = LocalService(
    name="orchestrator-rescuer",
    start=_start,
    order=50,
    description="returns tasks of dead workers, sends undelivered outcomes, runs the scaler",
)
