"""Idle workers are woken by a queued task (LISTEN/NOTIFY), not left to their poll interval."""

from __future__ import annotations

from autodev.config import get_settings
from autodev.orchestrator import queue, wakeup
from autodev.orchestrator.queue import TaskSpec


def test_queuing_a_task_wakes_a_listening_worker(database: str) -> None:
    del database
    listener = wakeup.Listener(get_settings())
    try:
        assert listener.listen()
        assert not listener.wait(0.05)  # nothing queued: the wait runs out
        queue.submit(TaskSpec(task_type="analysis", prompt="Summarise the repository."))
        # Woken by the submission itself (a missing notification would run out the 60 s).
        assert listener.wait(60)
        assert not listener.wait(0.05)  # one notification, one wake-up
    finally:
        listener.close()
    assert not listener.listening
    assert not listener.wait(0.05)  # closed: the caller waits its poll interval itself
