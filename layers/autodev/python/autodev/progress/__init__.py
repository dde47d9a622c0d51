"""Progress reporting: stage-weighted percent, a smoothed ETA, metrics, live Slack updates.

The spec's ProgressReporter. Public API (signatures are a contract; the worker calls them)::

    start_tracking(task_id, task_type, stages=[{name, weight}], *, kind="task",
                   workflow_id=None, step_name=None, slack_channel=None,
                   slack_thread_ts=None, slack_message_ts=None, status_message="",
                   clock=SYSTEM_CLOCK, background_slack=False, slack_later=False) -> Progress
    send_status(id) -> None
    update_progress(task_id, stage_progress=None, status_message=None, metrics=None, *,
                    stage=None, clock=SYSTEM_CLOCK, background_slack=False) -> Progress
    complete(task_id, *, status="completed", status_message=None, metrics=None,
             clock=SYSTEM_CLOCK, wait_for_slack=True, background_slack=False) -> Progress
    get_progress(id) -> Progress | None
    workflow_steps(workflow_id) -> list[Progress]
    forget(id) -> None

``metrics`` are ``Metrics`` (``autodev.events.Metrics``, the model the progress events carry)
or a mapping of some of its fields; ``Progress.metrics`` is a ``Metrics``.
``background_slack=True`` (the worker) never waits on Slack: the live status message is
sent by the process's background sender, and by the delivery sweep for a process gone.
``slack_later=True`` (a workflow's start) leaves the first status message to the caller's
``send_status``, sent once the execution has started (and by the sweep if it never is).

The package's names load lazily (``__getattr__``, as ``autodev.callbacks``): a worker imports
it without the tracking, the rendering and their Slack blocks, which its background lane loads
with the first report rather than the worker at start-up (issue 18).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autodev.lazy import lazy_names

if TYPE_CHECKING:
    from autodev.events import Metrics
    from autodev.progress.clock import SYSTEM_CLOCK, Clock, ManualClock, SystemClock
    from autodev.progress.tracking import (
        Progress,
        complete,
        forget,
        get_progress,
        send_status,
        start_tracking,
        update_progress,
        workflow_steps,
    )

# Each public name, and the module of this package that defines it (Metrics is the events
# model, re-exported from the tracking module that uses it).
_WHERE = {
    "SYSTEM_CLOCK": "clock",
    "Clock": "clock",
    "ManualClock": "clock",
    "Metrics": "tracking",
    "Progress": "tracking",
    "SystemClock": "clock",
    "complete": "tracking",
    "forget": "tracking",
    "get_progress": "tracking",
    "send_status": "tracking",
    "start_tracking": "tracking",
    "update_progress": "tracking",
    "workflow_steps": "tracking",
}

__getattr__, __dir__ = lazy_names(__name__, _WHERE)

__all__ = [
    "SYSTEM_CLOCK",
    "Clock",
    "ManualClock",
    "Metrics",
    "Progress",
    "SystemClock",
    "complete",
    "forget",
    "get_progress",
    "send_status",
    "start_tracking",
    "update_progress",
    "workflow_steps",
]
