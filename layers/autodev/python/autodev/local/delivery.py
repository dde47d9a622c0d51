"""The deliveries' part of the local stack (one of ``autodev.local.services.default_services``).

In AWS the deliver_results function runs every minute on a schedule (and when kicked); here
``result-delivery`` does its work every couple of seconds in the local stack's process:
due result deliveries, including retries once their backoff has passed, and live Slack status
messages a finished process left pending. The outbox claims each delivery before sending it,
so this loop and a kick running at the same moment never send one twice.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from autodev.callbacks.delivery import deliver_due
from autodev.local.services import LocalService
from autodev.observability import child_logger

if TYPE_CHECKING:
    from autodev.local.stack import LocalStack

log = child_logger(__name__)

INTERVAL_SECONDS = 2.0


class DeliveryLoop:
    """Sends what is due every ``interval`` seconds until stopped; ``sweeps`` counts passes."""

    def __init__(self, interval: float = INTERVAL_SECONDS) -> None:
        self.interval = interval
        self.sweeps = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="result-delivery", daemon=True)

    def start(self) -> DeliveryLoop:
        self._thread.start()
        return self

    def _run(self) -> None:
        from autodev.progress import slack_updates

        while not self._stopping.wait(self.interval):
            try:
                deliver_due()
                slack_updates.flush_due()
            except Exception:  # the database restarting under us: try again next pass
                log.exception("local result delivery pass failed")
            self.sweeps += 1

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)


def _start(stack: LocalStack) -> DeliveryLoop:
    del stack
    return DeliveryLoop().start()


SERVICE = LocalService(
    name="result-delivery",
    start=_start,
    order=70,
    description="sends due result deliveries (Slack, webhooks, events) with retries",
)
