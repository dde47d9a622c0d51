"""The scaler: keep min(queued + running, ORCHESTRATOR_MAX_INSTANCES) workers up.

It only ever starts workers; workers stop themselves when the queue stays empty, so the count
comes down to zero on its own. Decisions are taken under a Postgres advisory lock, so two
scalers poked at once (every enqueue pokes one) cannot both start the same missing workers
and overshoot the maximum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autodev.config import Settings, get_settings
from autodev.db import connection
from autodev.observability import child_logger
from autodev.orchestrator import metrics, queue
from autodev.orchestrator.launchers import Launcher, launcher_for

log = child_logger(__name__)

# An arbitrary constant naming "the autodev scaler" among advisory locks.
SCALER_LOCK_KEY = 0x5CA1E5


@dataclass(frozen=True)
class ScaleDecision:
    queued: int
    running_tasks: int
    workers: int
    desired: int
    launched: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "queued": self.queued,
            "running_tasks": self.running_tasks,
            "workers": self.workers,
            "desired": self.desired,
            "launched": len(self.launched),
        }


def desired_workers(queued: int, running: int, maximum: int) -> int:
    return max(0, min(queued + running, maximum))


def scale(launcher: Launcher | None = None, settings: Settings | None = None) -> ScaleDecision:
    settings = settings or get_settings()
    launcher = launcher or launcher_for(settings)
    with connection() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCALER_LOCK_KEY,))
        depth = queue.queue_depth(conn=conn)
        queued, running = depth.total_queued, depth.running
        desired = desired_workers(queued, running, settings.orchestrator_max_instances)
        workers = launcher.running()
        launched: list[str] = []
        if workers < desired:
            launched = launcher.launch(desired - workers)
            metrics.record(
                "orchestrator.scaler.launched",
                len(launched),
                "Count",
                {"launcher": launcher.name, "desired": desired, "workers": workers},
                conn=conn,
            )
            log.info(
                "scaler: %s worker(s) up, %s wanted, started %s", workers, desired, len(launched)
            )
    return ScaleDecision(queued, running, workers, desired, launched)
