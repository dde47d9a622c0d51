"""Queue throughput: claim-and-complete against raw single-row Postgres commits, same run.

A task costs two transactions (the claim with ``FOR UPDATE SKIP LOCKED`` and the completion
guarded by the lease), so against one single-row commit per unit the ratio is at most about
0.5 for one worker; with several workers, SKIP LOCKED should keep them from queueing behind
each other, so the ratio should hold. The absolute numbers depend on the machine; the ratios
carry the meaning; the two are measured in alternating rounds and compared by their medians.
``AUTODEV_BENCH_TASKS`` sets the size (default 300, spread over the rounds).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable

import pytest

from autodev.config import get_settings
from autodev.db import connection
from autodev.orchestrator import queue
from autodev.orchestrator.queue import TaskSpec
from tests.bench.conftest import BenchReport

TASKS = int(os.environ.get("AUTODEV_BENCH_TASKS", "300"))
THREADS = 4
ROUNDS = 5


def _rate(count: int, work: Callable[[int], None], threads: int) -> float:
    """Units per second doing ``work(thread_index)`` in ``threads`` threads at once."""
    start = threading.Barrier(threads + 1)

    def run(index: int) -> None:
        start.wait()
        work(index)

    runners = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for runner in runners:
        runner.start()
    start.wait()
    began = time.perf_counter()
    for runner in runners:
        runner.join()
    return count / (time.perf_counter() - began)


def _raw_commits(count: int, threads: int) -> float:
    with connection() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, v int)")

    def work(index: int) -> None:
        for number in range(count // threads):
            with connection() as conn:  # one single-row transaction, committed
                conn.execute("INSERT INTO bench_raw (v) VALUES (%s)", (number,))

    return _rate(count, work, threads)


def _claim_and_complete(count: int, threads: int) -> float:
    for number in range(count):
        queue.submit_task(TaskSpec(task_type="bench", prompt=f"task {number}"))

    def work(index: int) -> None:
        worker = f"bench-{index}"
        while (task := queue.claim_next(worker, 60)) is not None:
            assert queue.complete_task(task.id, worker, {"ok": True})

    rate = _rate(count, work, threads)
    with connection() as conn:
        done = conn.execute(
            "SELECT count(*) AS n FROM autonomous_tasks WHERE status = 'succeeded'"
        ).fetchone()
        conn.execute("DELETE FROM autonomous_tasks")
    assert done is not None
    assert done["n"] == count  # every task completed exactly once
    return rate


@pytest.mark.parametrize("threads", [1, THREADS])
def test_claim_and_complete_throughput(
    database: str, monkeypatch: pytest.MonkeyPatch, bench: BenchReport, threads: int
) -> None:
    monkeypatch.setenv("DB_POOL_MAX_SIZE", str(THREADS * 2))
    get_settings.cache_clear()
    # Interleaved rounds, medians: the machine is shared, and load comes and goes.
    count = max(threads, (TASKS // ROUNDS) - (TASKS // ROUNDS) % threads)
    raws, rates = [], []
    for _ in range(ROUNDS):
        raws.append(_raw_commits(count, threads))
        rates.append(_claim_and_complete(count, threads))
    raw, tasks = statistics.median(raws), statistics.median(rates)
    row = bench.record(
        f"queue claim+complete, {threads} worker(s)",
        round(tasks, 1),
        "tasks/s vs single-row commits/s",
        round(raw, 1),
        goal=">= 0.2 (a task is two transactions, a unit of the baseline one)",
    )
    print(f"\n{row.name}: {tasks:.0f} tasks/s, {raw:.0f} commits/s, ratio {row.ratio:.2f}")
    assert row.ratio > 0.1  # far below this, the claim path is broken, not just slow
