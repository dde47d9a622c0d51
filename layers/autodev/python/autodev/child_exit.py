"""Waiting for a child process to exit, told the moment it does.

``Popen.wait(timeout=...)`` polls: it sleeps between checks, each sleep twice the last up to
50 ms, so it sees an exit up to that late. The worker waits like that on every git command of
a step's checkout (while it watches the checkout's size) and on every Claude Code session's
end: each wait held the step, and the next, for tens of milliseconds after the process had
gone. On Linux a pidfd becomes readable when its process exits, and ``poll`` on it returns at
that moment; elsewhere (``os.pidfd_open`` missing or refused) ``Popen.wait`` serves.
"""

from __future__ import annotations

import os
import select
import subprocess
from typing import Any


def ended_within(process: subprocess.Popen[Any], seconds: float) -> bool:
    """Whether ``process`` exits within ``seconds`` (then it is reaped, its ``returncode``
    set); False when it is still running after them."""
    if process.poll() is not None:
        return True
    if seconds <= 0:
        return False
    try:
        watch = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        exited = select.poll()
        exited.register(watch, select.POLLIN)
        if not exited.poll(seconds * 1000):
            return False
    finally:
        os.close(watch)
    process.wait()
    return True
