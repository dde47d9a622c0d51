"""Worker processes started by the scaler, on a real Postgres: limits, rescue after SIGKILL.

The workers are real processes (``python -m autodev.local.echo``: the worker's loop with the
echo runner, chosen by AUTODEV_WORKER_MODULE), so the queue mechanics are exercised at full
speed; Claude Code itself runs in the e2e tests.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psutil
import pytest

from autodev.config import get_settings
from autodev.db import connection
from autodev.local.testing import wait_for
from autodev.orchestrator import queue, registry, rescuer
from autodev.orchestrator.launchers import LocalProcessLauncher
from autodev.orchestrator.queue import TaskSpec
from autodev.orchestrator.scaler import scale

MAX_INSTANCES = 3


@pytest.fixture
def launcher(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalProcessLauncher]:
    monkeypatch.setenv("AUTODEV_WORKER_MODULE", "autodev.local.echo")
    monkeypatch.setenv("ORCHESTRATOR_MAX_INSTANCES", str(MAX_INSTANCES))
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "1500")
    monkeypatch.setenv("ORCHESTRATOR_LEASE_SECONDS", "1.5")
    monkeypatch.setenv("TASK_RETRY_BACKOFF_MS", "50")
    get_settings.cache_clear()
    started = LocalProcessLauncher(get_settings())
    yield started
    for pid in started.pids():  # anything still up after the test: stop it
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


def _statuses(task_ids: list[str]) -> dict[str, str]:
    with connection() as conn:
        rows = conn.execute(
            "SELECT id::text, status FROM autonomous_tasks WHERE id = ANY(%s::uuid[])", (task_ids,)
        ).fetchall()
    return {row["id"]: row["status"] for row in rows}


def _runs() -> list[dict[str, Any]]:
    """Each execution: its task, worker, start, and end with outcome (None: never ended)."""
    with connection() as conn:
        rows = conn.execute(
            "SELECT metric_name, dimensions, recorded_at FROM monitoring_metrics "
            "WHERE metric_name IN ('orchestrator.task.started', 'orchestrator.task.finished') "
            "ORDER BY id"
        ).fetchall()
    runs: dict[tuple[str, str, int], dict[str, Any]] = {}
    for row in rows:
        dims = row["dimensions"]
        key = (dims["task_id"], dims["worker"], int(dims["attempt"]))
        run = runs.setdefault(key, {"task": key[0], "worker": key[1], "end": None, "outcome": None})
        if row["metric_name"] == "orchestrator.task.started":
            run["start"] = row["recorded_at"]
        else:
            run["end"], run["outcome"] = row["recorded_at"], dims["outcome"]
    return list(runs.values())


def _max_overlap(runs: list[dict[str, Any]]) -> int:
    edges: list[tuple[datetime, int]] = []
    for run in runs:
        edges.append((run["start"], 1))
        edges.append((run["end"], -1))
    edges.sort(key=lambda edge: (edge[0], edge[1]))  # an end before a start at the same instant
    current = peak = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def test_fifty_tasks_run_at_most_max_at_a_time_and_each_finishes_once(
    launcher: LocalProcessLauncher,
) -> None:
    task_ids: list[str] = []
    workers_seen: list[int] = []
    for number in range(50):
        task_ids.append(
            queue.submit_task(
                TaskSpec(
                    task_type="analysis",
                    prompt=f"task {number}",
                    context={"echo": {"seconds": 0.05}},
                )
            )
        )
        scale(launcher)  # as enqueue_task does after every enqueue
        workers_seen.append(launcher.running())

    def all_done() -> bool:
        workers_seen.append(launcher.running())
        return set(_statuses(task_ids).values()) == {"succeeded"}

    wait_for(all_done, timeout=60)
    assert max(workers_seen) <= MAX_INSTANCES
    assert max(workers_seen) >= 2  # the work was really spread over several workers
    runs = _runs()
    assert sorted(run["task"] for run in runs) == sorted(task_ids)  # each ran exactly once
    assert {run["outcome"] for run in runs} == {"succeeded"}
    assert _max_overlap(runs) <= MAX_INSTANCES
    with connection() as conn:
        attempts = conn.execute("SELECT DISTINCT attempts FROM autonomous_tasks").fetchall()
    assert [row["attempts"] for row in attempts] == [1]
    # Idle workers exit on their own: the count comes back to zero.
    wait_for(lambda: launcher.running() == 0, timeout=30)


def test_a_worker_killed_mid_task_has_its_task_rescued_and_finished_once(
    launcher: LocalProcessLauncher,
) -> None:
    task_id = queue.submit_task(
        TaskSpec(
            task_type="analysis",
            prompt="survive a crash",
            max_attempts=3,
            context={"echo": {"seconds": 1.0, "output": {"answer": 42}}},
        )
    )
    scale(launcher)
    (victim,) = wait_for(launcher.pids, timeout=60)
    owner = wait_for(lambda: queue.get_task_status(task_id).lease_owner, timeout=60)
    assert f"-{victim}-" in owner
    # Mid task: the worker has claimed it and recorded that it started running it.
    wait_for(lambda: [run for run in _runs() if run["task"] == task_id], timeout=60)
    os.kill(victim, signal.SIGKILL)
    wait_for(
        lambda: not psutil.pid_exists(victim) or psutil.Process(victim).status() == "zombie",
        timeout=60,
    )

    # The rescuer (every few seconds on the local stack) returns the task once the lease has
    # expired and starts a worker for it.
    def rescued() -> bool:
        report = rescuer.rescue_once(launcher=launcher)
        return task_id in report["requeued"]

    wait_for(rescued, timeout=30)
    wait_for(lambda: queue.get_task_status(task_id).status == "succeeded", timeout=60)
    status = queue.get_task_status(task_id)
    assert status.attempts == 2
    assert status.result is not None
    assert status.result["answer"] == 42
    assert status.result["attempt"] == 2
    runs = [run for run in _runs() if run["task"] == task_id]
    assert len(runs) == 2
    killed, finished = sorted(runs, key=lambda run: run["start"])
    assert (killed["outcome"], finished["outcome"]) == (None, "succeeded")
    assert killed["worker"] == owner
    assert finished["worker"] != owner


class _Instances:
    """The machines a launcher starts (ECS tasks, processes), as a count: the workers and
    their registry rows below are real, only what starts them is not."""

    name = "counted"

    def __init__(self, up: int) -> None:
        self.up = up
        self.started = 0

    def running(self) -> int:
        return self.up

    def launch(self, count: int) -> list[str]:
        self.started += count
        self.up += count
        return [f"instance-{self.up - n}" for n in range(count)]


def test_a_busy_or_stalled_worker_is_not_room_for_queued_tasks(database: str) -> None:
    instances = _Instances(up=1)
    registry.register("w-1", instances.name)
    first = queue.submit_task(TaskSpec(task_type="analysis", prompt="first"))
    claimed = queue.claim_next("w-1", 30)
    assert claimed is not None
    assert claimed.id == first
    # Claimed, not yet marked busy: its live lease says it is on a task.
    queue.submit_task(TaskSpec(task_type="analysis", prompt="second"))
    decision = scale(instances)
    assert (decision.busy, instances.started) == (1, 1)

    # Its task is done but the worker is still on it (recording, delivering: stalled there).
    registry.seen("w-1", first)
    assert queue.complete_task(first, "w-1", {"summary": "done"})
    instances.up = 1  # the one started above never came up
    assert scale(instances).busy == 1
    assert instances.started == 2  # the queued task got a worker of its own

    # Once it says it is idle, it is room: nothing more starts for the one queued task.
    registry.task_done("w-1", True)
    instances.up = 1
    decision = scale(instances)
    assert (decision.busy, decision.queued, instances.started) == (0, 1, 2)


class _ClaimedWhileCounted(_Instances):
    """Its count is taken between the scaler's reads of the queue and of the workers, and
    right then the idle worker claims the queued task (as it does, woken by the insert, while
    the enqueue's poke is being answered)."""

    def running(self) -> int:
        claimed = queue.claim_next("w-1", 30)
        assert claimed is not None
        registry.seen("w-1", claimed.id)
        return super().running()


def test_a_task_claimed_while_the_scaler_counts_starts_no_worker(database: str) -> None:
    instances = _ClaimedWhileCounted(up=1)
    registry.register("w-1", instances.name)
    queue.submit_task(TaskSpec(task_type="analysis", prompt="the next step"))
    decision = scale(instances)
    # One moment's view: the task queued and its worker free. Read at two moments, the task
    # was still queued and its worker already busy, and a second worker started for it.
    assert (decision.queued, decision.busy, instances.started) == (1, 0, 0)
    assert scale(_Instances(up=1)).launched == []  # and afterwards: claimed, busy


def test_a_starting_workflow_gets_its_first_steps_worker_once(database: str) -> None:
    # Asked ahead (a workflow starting): a worker starts with nothing queued yet.
    instances = _Instances(up=0)
    decision = scale(instances, expected=1)
    assert (decision.queued, decision.expected, instances.started) == (0, 1, 1)
    # Its step is queued and the enqueue pokes the scaler: the worker started for it (up and
    # free, or still starting) is its room, so no second one starts.
    queue.submit_task(TaskSpec(task_type="analysis", prompt="first step"))
    decision = scale(instances)
    assert (decision.queued, decision.workers, instances.started) == (1, 1, 1)
    # An idle worker already up is room for the step ahead too: nothing starts.
    assert scale(_Instances(up=2), expected=1).launched == []


def test_a_busy_worker_is_not_room_for_a_step_ahead(database: str) -> None:
    instances = _Instances(up=1)
    registry.register("w-1", instances.name)
    queue.submit_task(TaskSpec(task_type="analysis", prompt="running"))
    claimed = queue.claim_next("w-1", 30)
    assert claimed is not None
    registry.seen("w-1", claimed.id)
    scale(instances, expected=1)
    assert instances.started == 1
