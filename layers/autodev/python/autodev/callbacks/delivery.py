"""Sending what the outbox holds: what the deliver_results function runs.

The outbox and the channels (slack_sdk, the webhook client) are imported by ``deliver_due``,
not with this module: ``kick_delivery`` in AWS only invokes the deliver_results function, and
workflow_finished imports it at cold start (issue 18).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from autodev.observability import best_effort_failed, child_logger

if TYPE_CHECKING:
    from autodev.callbacks.outbox import Outcome

logger = child_logger(__name__)

Sender = Callable[[dict[str, Any]], "Outcome"]


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "retrying": self.retrying, "dead": self.dead}


def deliver_due(
    *,
    now: datetime | None = None,
    limit: int = 50,
    ids: list[str] | None = None,
    sender: Sender | None = None,
) -> DeliveryReport:
    """Send every due delivery (or just ``ids``), recording each outcome."""
    from autodev.callbacks import channels, outbox

    report = DeliveryReport()
    while True:
        when = now or outbox.utcnow()
        batch = outbox.claim_due(when, limit, ids)
        if not batch:
            return report
        for row in batch:
            try:
                outcome = (sender or channels.send)(row)
            except Exception as error:  # a bug in one channel must not strand the rest
                logger.exception("delivery %s failed unexpectedly", row["id"])
                outcome = outbox.Outcome(False, f"internal error: {type(error).__name__}")
            status = outbox.record(row, outcome, now or outbox.utcnow())
            {"delivered": report.delivered, "pending": report.retrying, "dead": report.dead}[
                status
            ].append(row["id"])
        if len(batch) < limit:
            return report


def kick_delivery() -> None:
    """Have queued deliveries sent now rather than at the next scheduled sweep.

    Call it after the transaction that called ``deliver_result`` has committed. It invokes
    the deliver_results function asynchronously (``AUTODEV_DELIVERY_FUNCTION``, set by infra
    with the invoke grant, and by the local stack, where the function runs in the background
    of its process); with none named (scripts, tests without the stack) it delivers inline.
    Best effort: the scheduled sweep sends whatever this misses.
    """
    import os

    name = os.environ.get("AUTODEV_DELIVERY_FUNCTION")
    try:
        if name:
            from autodev.aws import invoke_async

            invoke_async(name, {})
        else:
            deliver_due()
    except Exception:  # the scheduled sweep sends them
        best_effort_failed("delivery_kick", logger)
