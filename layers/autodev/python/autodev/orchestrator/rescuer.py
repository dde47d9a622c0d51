"""The rescuer: return tasks whose worker died, finish off outcomes nobody delivered.

Scheduled every minute in AWS (functions/rescuer); a loop on the local stack. Each pass:
tasks whose lease expired go back to the queue with backoff (or end dead after their last
attempt, and their workflow is told with SendTaskFailure); outcomes left in the outbox are
sent; finished tasks whose result nobody published (dead, cancelled) are published; and the
scaler is asked to start workers for what is queued.

A lease also lapses when its worker lives but cannot reach the database (an outage longer
than the lease while it finishes a step). Running Claude Code again then would do the work
twice, so before rescuing, the rescuer asks the owner's registration whether it works on
that task and the launcher that started it whether it still runs (its process, its ECS
task): a live owner's lease is extended instead, up to the attempt's deadline (its time limit
plus a grace to record the outcome). A dead owner, or one nobody can vouch for, is rescued as
before.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from autodev.config import Settings, get_settings
from autodev.errors import AutodevError
from autodev.observability import Metric, best_effort_failed, child_logger, count
from autodev.orchestrator import outcomes, queue, registry, task_results
from autodev.orchestrator.launchers import Launcher, worker_alive

log = child_logger(__name__)

# Outcomes younger than this are left to the worker that is sending them.
OUTBOX_GRACE_SECONDS = 30.0


def rescue_once(
    *,
    launcher: Launcher | None = None,
    settings: Settings | None = None,
    outbox_grace_seconds: float = OUTBOX_GRACE_SECONDS,
    scale: bool = True,
) -> dict[str, Any]:
    settings = settings or get_settings()
    spared = spare_live_workers(settings)
    rescued = queue.rescue_expired()
    requeued = [o.task_id for o in rescued if o.status == "queued"]
    dead = [o for o in rescued if o.final]
    for outcome in dead:
        log.warning("task %s is dead: %s", outcome.task_id, outcome.error)
        count(Metric.TASKS_DEAD)
    delivered = {"sent": 0, "gone": 0}
    for outcome in dead:
        if outcome.task_token:
            try:
                answer = outcomes.deliver_task(outcome.task_id)
            except outcomes.DeliveryFailed as error:
                log.warning(
                    "outcome of dead task %s left in the outbox: %s", outcome.task_id, error
                )
                continue
            if answer in delivered:
                delivered[answer] += 1
    later = outcomes.deliver_pending(older_than_seconds=outbox_grace_seconds)
    # Results the workers did not publish: dead and cancelled tasks, a worker that stopped.
    published = task_results.publish_results(older_than_seconds=outbox_grace_seconds)
    alive, abandoned = heartbeat_queued(settings)
    report: dict[str, Any] = {
        "spared": spared,
        "requeued": requeued,
        "dead": [o.task_id for o in dead],
        "outcomes_sent": delivered["sent"] + later.get("sent", 0),
        "outcomes_gone": delivered["gone"] + later.get("gone", 0),
        "outcomes_failed": later.get("failed", 0),
        "results_published": published,
        "queued_heartbeats": alive,
        "abandoned": abandoned,
    }
    if scale:
        from autodev.orchestrator.scaler import scale as run_scaler

        try:
            report["scale"] = run_scaler(launcher, settings).to_json()
        except AutodevError as error:
            log.warning("scaler not run: %s", error)
            report["scale_error"] = str(error)
    return report


def spare_live_workers(settings: Settings | None = None) -> list[str]:
    """Extend the lapsed leases of owners that still run (until their attempt's deadline);
    returns the ids of the tasks spared. What is left lapsed is for ``rescue_expired``."""
    settings = settings or get_settings()
    now = datetime.now(UTC)
    alive: dict[str, bool] = {}
    spared: list[str] = []
    for lease in queue.expired_leases():
        if lease.deadline <= now:
            continue
        record = registry.lookup(lease.owner)
        # The owner must say it works on this task: a claim whose answer it never got (the
        # connection died) leaves a lease its owner does not know about.
        if record is None or record.current_task_id != lease.task_id:
            continue
        if lease.owner not in alive:
            alive[lease.owner] = worker_alive(record, settings)
        if alive[lease.owner] and queue.extend_expired_lease(
            lease, settings.orchestrator_lease_seconds
        ):
            log.info(
                "task %s: its worker %s lives but has not renewed its lease; lease extended",
                lease.task_id,
                lease.owner,
            )
            spared.append(lease.task_id)
    return spared


def heartbeat_queued(
    settings: Settings | None = None, *, older_than_seconds: float | None = None
) -> tuple[int, list[str]]:
    """Heartbeat the steps still waiting in the queue, and drop those nobody waits for.

    An agent step's HeartbeatSeconds runs from the moment it is enqueued; when more steps are
    queued than ORCHESTRATOR_MAX_INSTANCES can run, a step can wait longer than that, and Step
    Functions would time it out although nothing is wrong. A third of the limit between
    heartbeats leaves room for a missed rescuer pass. A token that is gone (the execution was
    stopped or timed out) means nobody waits for the task: it is cancelled rather than run.
    """
    settings = settings or get_settings()
    if older_than_seconds is None:
        older_than_seconds = settings.workflow_heartbeat_seconds / 3
    alive = 0
    abandoned: list[str] = []
    for task_id, token in queue.queued_needing_heartbeat(older_than_seconds):
        refused = outcomes.heartbeat_refused(token)
        if refused is None:
            alive += 1
        elif queue.cancel_task(
            task_id, "the workflow no longer waits for this step", refused=refused
        ):
            abandoned.append(task_id)
    return alive, abandoned


def run_loop(
    stop: threading.Event,
    *,
    interval_seconds: float = 5.0,
    launcher: Launcher | None = None,
    settings: Settings | None = None,
) -> None:
    """Rescue every ``interval_seconds`` until ``stop`` is set (the local stack's schedule)."""
    while not stop.is_set():
        try:
            rescue_once(launcher=launcher, settings=settings)
        except Exception:  # one bad pass must not end the loop
            best_effort_failed("rescuer_pass", log)
        stop.wait(interval_seconds)


def start_background(
    *, interval_seconds: float = 5.0, launcher: Launcher | None = None
) -> tuple[threading.Thread, threading.Event]:
    """Run the rescuer loop in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_loop,
        args=(stop,),
        kwargs={"interval_seconds": interval_seconds, "launcher": launcher},
        name="autodev-rescuer",
        daemon=True,
    )
    thread.start()
    return thread, stop
