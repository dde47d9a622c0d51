"""The local stack's workflow reconciler: what the rescuer function's reconcile pass is in AWS.

The local engine (moto) keeps executions in memory, so when the stack starts, no workflow left
``running`` by a previous stack (``autodev local down``, a crash) can go on. The first pass runs
as the stack starts, before the rescuer loop and its scaler (order 40 < 50): such workflows
fail with ``ExecutionLost`` and their queued tasks are cancelled before any worker could claim
them. Later passes run every ``INTERVAL_SECONDS`` with the usual grace, for executions that
ended without recording it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from autodev.local.services import LocalService, RunningService, ThreadService
from autodev.observability import best_effort_failed, child_logger
from autodev.workflows.reconcile import reconcile_workflows

if TYPE_CHECKING:
    from autodev.local.stack import LocalStack

log = child_logger(__name__)

INTERVAL_SECONDS = 30.0


def _loop(stop: threading.Event) -> None:
    while not stop.wait(INTERVAL_SECONDS):
        try:
            reconcile_workflows()
        except Exception:  # one bad pass must not end the loop
            best_effort_failed("reconcile_pass", log)


def _start(stack: LocalStack) -> RunningService:
    # No grace: every execution of this engine is younger than the stack.
    report = reconcile_workflows(grace_seconds=0, limit=10_000)
    if report.lost:
        stack.note(
            f"{len(report.lost)} workflow(s) left running by a previous local stack failed"
            f" (ExecutionLost): {', '.join(report.lost)}"
        )
    stop = threading.Event()
    thread = threading.Thread(target=_loop, args=(stop,), name="autodev-reconciler", daemon=True)
    thread.start()
    return ThreadService(thread, stop)


SERVICE = LocalService(
    name="workflow-reconciler",
    start=_start,
    order=40,
    description="fails workflows whose execution is gone (a previous stack's) or ended unseen",
)
