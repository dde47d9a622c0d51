"""Keeping a claimed task alive: lease renewals and Step Functions heartbeats, in a thread.

The lease is renewed every third of its length, so two renewals can fail (a slow database)
before it lapses. A renewal that finds the lease gone (the task was cancelled, or rescued and
handed to another worker after this one stalled) tells the worker to stop at once; so does a
heartbeat that Step Functions refuses because the execution no longer waits for the task.
Heartbeats go to the token each renewal reads: a retried step gives its task a new token, and
the old one would be refused although the step still waits. The keeper runs until the worker
has recorded the task's outcome, so a live worker keeps its lease (and the step its
heartbeats) while it waits for the database to record a finished result.
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
                if not self._renew():
                    return
            if self.task_token and now >= next_heartbeat:
                next_heartbeat = now + self.heartbeat_interval
                if not self._heartbeat():
                    return

    def _renew(self) -> bool:
        """Renew the lease and read the current token; False when the lease is gone."""
        try:
            renewed = queue.renew_lease(self.task_id, self.worker_id, self.lease_seconds)
        except DatabaseUnavailable as error:
            log.warning("lease of %s not renewed: %s", self.task_id, error)
            return True  # the next renewal may get through; the rescuer asks if we live
        if renewed is None:
            self._lease_lost = True
            self._reason = (
                "the worker no longer holds the task's lease (the task was "
                "cancelled or handed to another worker)"
            )
            return False
        self.task_token = renewed.task_token or self.task_token
        return True

    def _heartbeat(self) -> bool:
        """Heartbeat the step; False when Step Functions no longer waits for the task."""
        token = self.task_token
        if token is None or outcomes.heartbeat(token):
            return True
        # The step may have been retried since the last renewal, with a new token.
        renewed = self._renew()
        fresh = self.task_token
        if renewed and fresh is not None and fresh != token and outcomes.heartbeat(fresh):
            return True
        if self._reason is None:
            self._reason = "Step Functions no longer waits for this task"
        return False
