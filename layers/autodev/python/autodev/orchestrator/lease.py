"""Keeping a claimed task alive: lease renewals and Step Functions heartbeats, in a thread.

The lease is renewed every third of its length, so two renewals can fail (a slow database)
before it lapses. A renewal that finds the lease gone (the task was cancelled, or rescued and
handed to another worker after this one stalled) tells the worker to stop at once; so does a
heartbeat that Step Functions refuses because the execution no longer waits for the task.
"""

from __future__ import annotations

import threading
import time

from autodev.db import DatabaseUnavailable
from autodev.observability import child_logger
from autodev.orchestrator import outcomes, queue

log = child_logger(__name__)


class LeaseKeeper:
    def __init__(
        self,
        task_id: str,
        worker_id: str,
        lease_seconds: float,
        *,
        task_token: str | None = None,
        heartbeat_seconds: float | None = None,
    ) -> None:
        self.task_id = task_id
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.task_token = task_token
        self.interval = max(0.2, lease_seconds / 3)
        if task_token and heartbeat_seconds:
            self.heartbeat_interval = max(0.2, min(self.interval, heartbeat_seconds / 3))
        else:
            self.heartbeat_interval = self.interval
        self._stop = threading.Event()
        self._reason: str | None = None
        self._lease_lost = False
        self._thread = threading.Thread(target=self._run, name=f"lease-{task_id[:8]}", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def __enter__(self) -> LeaseKeeper:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def lease_lost(self) -> bool:
        """True when another party owns the task now (so this worker records nothing)."""
        return self._lease_lost

    def stop_reason(self) -> str | None:
        """Why the task must stop now, or None while the lease holds."""
        return self._reason

    def _run(self) -> None:
        next_renewal = time.monotonic() + self.interval
        next_heartbeat = time.monotonic() + self.heartbeat_interval
        while not self._stop.wait(max(0.05, min(next_renewal, next_heartbeat) - time.monotonic())):
            now = time.monotonic()
            if now >= next_renewal:
                next_renewal = now + self.interval
                try:
                    if not queue.renew_lease(self.task_id, self.worker_id, self.lease_seconds):
                        self._lease_lost = True
                        self._reason = (
                            "the worker no longer holds the task's lease (the task was "
                            "cancelled or handed to another worker)"
                        )
                        return
                except DatabaseUnavailable as error:
                    log.warning("lease of %s not renewed: %s", self.task_id, error)
            if self.task_token and now >= next_heartbeat:
                next_heartbeat = now + self.heartbeat_interval
                if not outcomes.heartbeat(self.task_token):
                    self._reason = "Step Functions no longer waits for this task"
                    return
