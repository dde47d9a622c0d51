"""A local worker stops when the process that started it is gone.

The local stack's scaler starts workers as processes of their own session (so a signal to the
stack does not reach them half-way through a task); without the stack they can report to
nobody. The launcher passes ``AUTODEV_WORKER_PARENT`` (``<pid>:<start mark>``: a pid reused by
another process does not count as the parent), and the worker watches it: when that process
is gone, the worker stops its task and exits. ECS tasks are not given it; ECS stops them.

The start mark is, on Linux, when the process started in clock ticks since boot (``t`` and the
22nd field of ``/proc/<pid>/stat``), which the kernel keeps. psutil's ``create_time`` adds
those ticks to a boot time it derives from the wall clock, in each process when it first asks:
after the clock was stepped (a machine resumed, NTP), the worker's figure for its live parent
differed from the parent's own, and the worker stopped as if the parent had exited (seen in a
CI run). Elsewhere the mark is ``create_time``, compared within 10 ms.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from autodev.observability import child_logger

log = child_logger(__name__)

PARENT_ENV = "AUTODEV_WORKER_PARENT"
INTERVAL_SECONDS = 1.0


def this_process() -> str:
    """What a child is given to watch this process by: ``<pid>:<start mark>``."""
    import os

    return identity(os.getpid())


def identity(pid: int) -> str:
    """``<pid>:<start mark>``: the process ``pid`` is now, not one that later reuses its pid
    (``gone`` tells which); raises psutil.NoSuchProcess when there is none."""
    return f"{pid}:{_start_mark(pid)}"


def _start_mark(pid: int) -> str:
    """When ``pid`` started (see the module); raises psutil.NoSuchProcess when it does not
    exist."""
    import psutil

    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            raise psutil.NoSuchProcess(pid) from None
    except OSError:
        pass
    else:
        # The command name, in parentheses, may hold spaces: the fields after it, from the 3rd.
        return "t" + stat.rpartition(")")[2].split()[22 - 3]
    return f"{psutil.Process(pid).create_time():.3f}"


def gone(watched: str) -> str | None:
    """Why the process named by ``watched`` (see :func:`this_process`) is gone; None: alive."""
    import psutil

    pid_text, _, mark = watched.partition(":")
    try:
        pid = int(pid_text)
        created = None if mark.startswith("t") else float(mark)
    except ValueError:
        return None  # not ours to judge: keep working
    exited = f"the process that started this worker (pid {pid}) has exited"
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return exited
        if created is not None:
            return None if abs(process.create_time() - created) <= 0.01 else exited
        return None if _start_mark(pid) == mark else exited
    except psutil.NoSuchProcess:
        return exited
    except psutil.Error:
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
