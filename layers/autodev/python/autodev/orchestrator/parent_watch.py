"""A local worker stops when the process that started it is gone.

The local stack's scaler starts workers as processes of their own session (so a signal to the
stack does not reach them half-way through a task); without the stack they can report to
nobody. The launcher passes ``AUTODEV_WORKER_PARENT`` (``<pid>:<start time>``: a pid reused by
another process does not count as the parent), and the worker watches it: when that process
is gone, the worker stops its task and exits. ECS tasks are not given it; ECS stops them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from autodev.observability import child_logger

log = child_logger(__name__)

PARENT_ENV = "AUTODEV_WORKER_PARENT"
INTERVAL_SECONDS = 1.0


def this_process() -> str:
    """What a child is given to watch this process by: ``<pid>:<start time>``."""
    import psutil

    me = psutil.Process()
    return f"{me.pid}:{me.create_time():.3f}"


def gone(watched: str) -> str | None:
    """Why the process named by ``watched`` (see :func:`this_process`) is gone; None: alive."""
    import psutil

    pid_text, _, started = watched.partition(":")
    try:
        pid, created = int(pid_text), float(started)
    except ValueError:
        return None  # not ours to judge: keep working
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return f"the process that started this worker (pid {pid}) has exited"
        if abs(process.create_time() - created) > 0.01:
            return f"the process that started this worker (pid {pid}) has exited"
    except psutil.NoSuchProcess:
        return f"the process that started this worker (pid {pid}) has exited"
    except psutil.Error:
        return None
    return None


def watch(
    watched: str, on_gone: Callable[[str], None], *, interval_seconds: float = INTERVAL_SECONDS
) -> threading.Event:
    """Call ``on_gone(reason)`` once, from a daemon thread, when ``watched`` is gone; set the
    returned event to stop watching."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval_seconds):
            reason = gone(watched)
            if reason is not None:
                log.warning("%s: stopping", reason)
                on_gone(reason)
                return

    threading.Thread(target=loop, name="autodev-parent-watch", daemon=True).start()
    return stop
