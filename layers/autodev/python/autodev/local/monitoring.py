"""Monitoring's part of the local stack: the alert evaluator and metric retention.

In AWS the alerts function evaluates every minute and the retention function runs hourly, on
schedules; here one loop in the local stack's process does both (alerts every
``ALERTS_INTERVAL_SECONDS``, retention at start and then hourly), posting alerts to the Slack
sink's ``ALERT_CHANNEL``.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from autodev.local.services import LocalService
from autodev.monitoring.alerts import evaluate
from autodev.monitoring.retention import apply_retention
from autodev.observability import child_logger

if TYPE_CHECKING:
    from autodev.local.stack import LocalStack

log = child_logger(__name__)

ALERTS_INTERVAL_SECONDS = 15.0
RETENTION_INTERVAL_SECONDS = 3600.0


class MonitoringLoop:
    def __init__(
        self,
        alerts_interval: float = ALERTS_INTERVAL_SECONDS,
        retention_interval: float = RETENTION_INTERVAL_SECONDS,
    ) -> None:
        self.alerts_interval = alerts_interval
        self.retention_interval = retention_interval
        self.passes = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="monitoring", daemon=True)

    def start(self) -> MonitoringLoop:
        self._thread.start()
        return self

    def _run(self) -> None:
        retention_due = time.monotonic()
        while not self._stopping.wait(self.alerts_interval):
            try:
                evaluate()
                if time.monotonic() >= retention_due:
                    apply_retention()
                    retention_due = time.monotonic() + self.retention_interval
            except Exception:  # the database restarting under us: try again next pass
                log.exception("local monitoring pass failed")
            self.passes += 1

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)


def _start(stack: LocalStack) -> MonitoringLoop:
    del stack
    return MonitoringLoop().start()


SERVICE = LocalService(
    name="monitoring",
    start=_start,
    order=75,
    description="evaluates alerts (posted to ALERT_CHANNEL) and rolls up old metric rows",
)
