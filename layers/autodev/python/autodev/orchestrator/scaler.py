"""The scaler: start a worker for each queued task no free worker will take, up to
ORCHESTRATOR_MAX_INSTANCES workers.

Free workers are those up (the launcher's count) less those on a task (the worker registry's
busy rows): a worker that is starting, or idle between claims, takes the next queued task; a
worker on a long or stalled task does not, so it is not counted as room for the queue.

A workflow that is starting asks for its first step's worker ahead (``expected``), and so does
the Slack front door when ``/workflow start`` arrives: the worker boots while the request is
checked and the execution reaches the step, instead of after the step is queued. Once the step
is queued, that worker is up (or starting) and free, so the scaler poked by enqueue_task starts
no second one for it; if the workflow never queues the step (its start failed), the worker
finds nothing to claim and leaves after its idle timeout, like any other idle worker.

It only ever starts workers; workers stop themselves when the queue stays empty, so the count
comes down to zero on its own. Decisions are taken under a Postgres advisory lock, so two
scalers poked at once (every enqueue pokes one) cannot both start the same missing workers
and overshoot the maximum.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import psycopg

from autodev.config import Settings, get_settings
from autodev.db import connection
from autodev.errors import InvalidInput
from autodev.observability import child_logger
from autodev.orchestrator import metrics, queue, registry
from autodev.orchestrator.launchers import Launcher, launcher_for

log = child_logger(__name__)

# An arbitrary constant naming "the autodev scaler" among advisory locks.
SCALER_LOCK_KEY = 0x5CA1E5


@dataclass(frozen=True)
class ScaleDecision:
    queued: int
    running_tasks: int
    workers: int
    busy: int
    desired: int
    launched: list[str] = field(default_factory=list)
    expected: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "queued": self.queued,
            "running_tasks": self.running_tasks,
            "workers": self.workers,
            "busy": self.busy,
            "desired": self.desired,
            "launched": len(self.launched),
            "expected": self.expected,
        }


def workers_to_start(queued: int, workers: int, busy: int, maximum: int) -> int:
    """Workers to start for ``queued`` tasks when ``workers`` are up and ``busy`` of them on a
    task: one per queued task beyond the free workers, within the maximum."""
    free = max(0, workers - busy)
    return max(0, min(queued - free, maximum - workers))


# More than any workflow's first steps: a larger number is a mistake, not a forecast.
MAX_EXPECTED = 20


def expected_tasks(event: object) -> int:
    """The tasks a scaler invocation says are about to be queued (``{"expected": n}``; 0 when
    the event names none, as the enqueue pokes and schedules do). InvalidInput otherwise."""
    value = event.get("expected", 0) if isinstance(event, Mapping) else 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_EXPECTED:
        raise InvalidInput(
            f"expected must be a whole number from 0 to {MAX_EXPECTED}, got {value!r}"
        )
    return value


def scale(
    launcher: Launcher | None = None, settings: Settings | None = None, *, expected: int = 0
) -> ScaleDecision:
    """Start the workers the queue needs now, plus ``expected`` tasks about to be queued (a
    starting workflow's first step): each needs a free worker like a queued one."""
    if expected < 0:
        raise InvalidInput(f"expected tasks cannot be negative, got {expected}")
    settings = settings or get_settings()
    launcher = launcher or launcher_for(settings)
    # One snapshot for the queue's depth and the workers' business: read at two moments, a
    # worker claiming a queued task in between was counted twice, as busy and by its task still
    # queued, and a worker started for a task already taken (every step's enqueue pokes the
    # scaler just as an idle worker, woken by the same insert, claims the task).
    with connection(isolation=psycopg.IsolationLevel.REPEATABLE_READ) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCALER_LOCK_KEY,))
        depth = queue.queue_depth(conn=conn)
        queued, running = depth.total_queued, depth.running
        workers = launcher.running()
        busy = min(workers, registry.busy_workers(launcher.name, conn=conn))
        start = workers_to_start(
            queued + expected, workers, busy, settings.orchestrator_max_instances
        )
        desired = workers + start
        launched: list[str] = []
        if start:
            launched = launcher.launch(start)
            metrics.record(
                "orchestrator.scaler.launched",
                len(launched),
                "Count",
                {"launcher": launcher.name, "desired": desired, "workers": workers, "busy": busy},
                conn=conn,
            )
            log.info(
                "scaler: %s worker(s) up (%s busy), %s queued, %s expected, started %s",
                workers,
                busy,
                queued,
                expected,
                len(launched),
            )
    return ScaleDecision(queued, running, workers, busy, desired, launched, expected)
