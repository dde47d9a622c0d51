"""The worker loop on a real Postgres, with the echo runner (no Claude Code here)."""

from __future__ import annotations

import contextlib
import gc
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from autodev import progress
from autodev.config import get_settings
from autodev.db import DatabaseUnavailable, connection, get_pool
from autodev.local.echo import EchoTaskRunner
from autodev.local.lambdas import load_module
from autodev.local.testing import wait_for
from autodev.orchestrator import queue, registry
from autodev.orchestrator import worker as worker_module
from autodev.orchestrator.claude_task import ClaudeCodeTaskRunner
from autodev.orchestrator.launchers import WORKER_SCRIPT
from autodev.orchestrator.progress_hook import ProgressHook
from autodev.orchestrator.queue import TaskSpec
from autodev.orchestrator.worker import Worker
from tests.conftest import reset_process_state


@pytest.fixture
def echo_env(database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "300")
    monkeypatch.setenv("TASK_RETRY_BACKOFF_MS", "20")
    monkeypatch.setenv("ORCHESTRATOR_LEASE_SECONDS", "3")
    get_settings.cache_clear()
    return database


def _workflow(budget_usd: float | None = None) -> str:
    workflow_id = str(uuid.uuid4())
    with connection() as conn:
        conn.execute(
            "INSERT INTO workflows (id, template, execution_name, requested_by, budget_usd) "
            "VALUES (%s, 'bug-fix', %s, 'U1', %s)",
            (workflow_id, f"bug-fix-{workflow_id[:8]}", budget_usd),
        )
    return workflow_id


def _metric_rows(name: str, task_id: str) -> list[dict[str, Any]]:
    with connection() as conn:
        rows = conn.execute(
            "SELECT metric_value, dimensions FROM monitoring_metrics "
            "WHERE metric_name = %s AND dimensions ->> 'task_id' = %s ORDER BY id",
            (name, task_id),
        ).fetchall()
    return [dict(row) for row in rows]


def test_worker_runs_a_task_records_it_and_exits_when_idle(echo_env: str) -> None:
    task_id = queue.submit_task(
        TaskSpec(
            task_type="analysis",
            prompt="say hello",
            context={"echo": {"output": {"passed": True}}},
        )
    )
    worker = Worker(get_settings(), runner=EchoTaskRunner())
    reason = worker.run()
    assert reason.startswith("idle")
    status = queue.get_task_status(task_id)
    assert status.status == "succeeded"
    assert status.result is not None
    assert status.result["summary"] == "[echo runner] say hello"
    assert status.result["passed"] is True  # the answer's fields are at the top
    assert status.result["task_id"] == task_id
    (finished,) = _metric_rows("orchestrator.task.finished", task_id)
    assert finished["dimensions"]["outcome"] == "succeeded"
    assert registry.live_workers() == []  # it said it stopped


def test_a_task_that_always_fails_ends_dead_after_its_attempts(echo_env: str) -> None:
    task_id = queue.submit_task(
        TaskSpec(
            task_type="analysis",
            prompt="always fails",
            max_attempts=3,
            context={"echo": {"fail": "the org refused the deployment"}},
        )
    )
    Worker(get_settings(), runner=EchoTaskRunner()).run()
    status = queue.get_task_status(task_id)
    assert status.status == "dead"
    assert status.attempts == 3
    assert status.error_code == queue.ERROR_RETRIES_EXHAUSTED
    assert status.last_error == "the org refused the deployment (gave up after 3 attempts)"
    outcomes = [
        row["dimensions"]["outcome"] for row in _metric_rows("orchestrator.task.finished", task_id)
    ]
    assert outcomes == ["failed", "failed", "failed"]


def test_a_cancelled_task_stops_its_worker_and_nothing_is_recorded(echo_env: str) -> None:
    workflow_id = _workflow()
    task_id = queue.submit_task(
        TaskSpec(
            task_type="analysis",
            prompt="long",
            workflow_id=workflow_id,
            context={"echo": {"seconds": 60}},
        )
    )
    worker = Worker(get_settings(), runner=EchoTaskRunner(), max_tasks=1)
    thread = threading.Thread(target=worker.run)
    thread.start()
    wait_for(lambda: queue.get_task_status(task_id).status == "running", timeout=20, interval=0.02)
    queue.cancel_workflow_tasks(workflow_id, "stopped by U1")
    thread.join(timeout=20)  # the lease keeper sees the lease gone within a third of it
    assert not thread.is_alive()
    status = queue.get_task_status(task_id)
    assert (status.status, status.last_error, status.result) == (
        "cancelled",
        "stopped by U1",
        None,
    )
    (finished,) = _metric_rows("orchestrator.task.finished", task_id)
    assert finished["dimensions"]["outcome"] == "lease_lost"


def test_a_step_is_not_started_when_its_workflow_has_spent_its_budget(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTODEV_MODEL_PROVIDER", "scripted")
    # Never reached: the budget check stops the step before Claude Code starts.
    monkeypatch.setenv("AUTODEV_SCRIPTED_MODEL_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    workflow_id = _workflow(budget_usd=0.5)
    spent = queue.submit_task(TaskSpec(task_type="fix", prompt="earlier", workflow_id=workflow_id))
    with connection() as conn:
        conn.execute(
            "UPDATE autonomous_tasks SET status = 'succeeded', cost_usd = 0.5, "
            "finished_at = now() WHERE id = %s",
            (spent,),
        )
    task_id = queue.submit_task(
        TaskSpec(task_type="fix", prompt="next step", workflow_id=workflow_id, step_name="fix")
    )
    task = queue.claim_next("w", 30)
    assert task is not None
    execution = ClaudeCodeTaskRunner(get_settings(), "w").execute(
        task, lambda: None, ProgressHook(task_id)
    )
    assert not execution.ok
    assert execution.error_code == queue.ERROR_WORKFLOW_BUDGET
    assert not execution.retryable
    assert "budget" in (execution.error or "")


def test_a_worker_that_goes_on_claims_its_next_task_with_the_last_completion(
    echo_env: str,
) -> None:
    first, second = (
        queue.submit_task(TaskSpec(task_type="analysis", prompt=f"task {n}", context={"echo": {}}))
        for n in (1, 2)
    )
    worker = Worker(get_settings(), runner=EchoTaskRunner(), max_tasks=2)
    assert worker.run() == "ran 2 task(s)"
    with connection() as conn:
        rows = {
            str(row["id"]): row
            for row in conn.execute(
                "SELECT id, status, attempts, finished_at, claimed_at FROM autonomous_tasks"
            ).fetchall()
        }
    assert [rows[t]["status"] for t in (first, second)] == ["succeeded", "succeeded"]
    assert [rows[t]["attempts"] for t in (first, second)] == [1, 1]
    # One statement, one transaction: the first's completion is the second's claim.
    assert rows[first]["finished_at"] == rows[second]["claimed_at"]


def test_a_claim_given_back_is_queued_as_if_never_claimed(echo_env: str) -> None:
    task_id = queue.submit_task(TaskSpec(task_type="analysis", prompt="later", context={}))
    claimed = queue.claim_next("worker-a", 60)
    assert claimed is not None
    assert claimed.id == task_id
    assert not queue.release_claim(task_id, "worker-b")  # not its claim: nothing changes
    assert queue.release_claim(task_id, "worker-a")
    status = queue.get_task_status(task_id)
    assert (status.status, status.attempts, status.lease_owner) == ("queued", 0, None)
    again = queue.claim_next("worker-b", 60)
    assert again is not None
    assert (again.id, again.attempts) == (task_id, 1)


class _CollectorNoting(EchoTaskRunner):
    """The echo runner, noting the garbage collector's state as the worker's loop begins (the
    loop asks its runner to prepare before its first claim) and as it runs a task."""

    def __init__(self) -> None:
        self.seen: list[tuple[bool, int]] = []

    def prepare(self) -> None:
        self.seen.append((gc.isenabled(), gc.get_freeze_count()))

    def execute(self, task: Any, should_stop: Any, progress: Any) -> Any:
        self.seen.append((gc.isenabled(), gc.get_freeze_count()))
        return super().execute(task, should_stop, progress)


def test_the_worker_pauses_the_collector_for_its_start_up_only(
    echo_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The entry point pauses the collector while it imports and builds the worker, then
    # freezes what that made; the loop and its tasks run with the collector on.
    # (It also sets the log level if none is set: set here, so that it is undone after.)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    task_id = queue.submit_task(TaskSpec(task_type="analysis", prompt="hi", context={"echo": {}}))
    runner = _CollectorNoting()
    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        assert load_module(WORKER_SCRIPT).main(runner=runner) == 0
    finally:
        signal.signal(signal.SIGTERM, sigterm)
        frozen = gc.get_freeze_count()
        gc.unfreeze()  # this test process's objects are collected as before
    assert gc.isenabled()
    assert frozen > 10_000  # the start-up's modules and classes, at least
    assert len(runner.seen) == 2
    assert all(enabled and count > 0 for enabled, count in runner.seen), runner.seen
    assert queue.get_task_status(task_id).status == "succeeded"


class _AgentStarting(EchoTaskRunner):
    """The echo runner as an agent's runner: it reports its agent's start (Claude Code's runner
    does on the model's first answer), noting when, and whether its worker's background lane
    was held before that."""

    def __init__(self, reports: bool = True, silent: bool = False) -> None:
        self.reports = reports
        self.silent = silent
        self.tracked_while_starting: bool | None = None
        self.worker: Worker | None = None
        self.lane_held: bool | None = None
        self.agent_up_at = 0.0

    def reports_agent_start(self, task: Any) -> bool:
        return self.reports

    def execute(self, task: Any, should_stop: Any, hook: Any) -> Any:
        assert self.worker is not None
        self.lane_held = not self.worker._lane_open.is_set()
        if self.silent:  # it never says so: the lane goes on once its hold is over
            self.tracked_while_starting = bool(
                wait_for(lambda: progress.get_progress(task.id), timeout=30, what="the progress")
            )
            return super().execute(task, should_stop, hook)
        self.agent_up_at = time.time()
        hook.agent_started()
        return super().execute(task, should_stop, hook)


def test_the_background_lane_waits_while_the_agent_starts(
    echo_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Claude Code's start-up takes all the CPU it gets: the task's progress, its first report,
    # is written once the agent is up, not while it starts.
    task_id = queue.submit_task(TaskSpec(task_type="analysis", prompt="hi", context={"echo": {}}))
    runner = _AgentStarting()
    worker = Worker(get_settings(), runner=runner, max_tasks=1)
    runner.worker = worker
    assert worker.run() == "ran 1 task(s)"
    assert runner.lane_held is True
    tracked = progress.get_progress(task_id)
    assert tracked is not None
    assert tracked.status == "completed"
    assert tracked.started_at >= runner.agent_up_at

    # An agent that never says it is up holds the lane for LANE_HOLD_SECONDS at most.
    queue.submit_task(TaskSpec(task_type="analysis", prompt="hi", context={"echo": {}}))
    runner = _AgentStarting(silent=True)
    worker = Worker(get_settings(), runner=runner, max_tasks=1)
    runner.worker = worker
    monkeypatch.setattr(worker_module, "LANE_HOLD_SECONDS", 0.0)
    assert worker.run() == "ran 1 task(s)"
    assert runner.lane_held is True
    assert runner.tracked_while_starting is True

    # A runner that starts no agent (a tool step), or cannot say when it has: nothing waits.
    queue.submit_task(TaskSpec(task_type="analysis", prompt="hi", context={"echo": {}}))
    runner = _AgentStarting(reports=False)
    worker = Worker(get_settings(), runner=runner, max_tasks=1)
    runner.worker = worker
    assert worker.run() == "ran 1 task(s)"
    assert runner.lane_held is False


class _PreparingRunner(EchoTaskRunner):
    """The echo runner, noting whether its worker was registered when it was asked to prepare
    (a runner sets up in the background while its worker registers and claims) and whether it
    was closed."""

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self.registered_when_prepared: bool | None = None
        self.closed = False

    def prepare(self) -> None:
        with contextlib.suppress(DatabaseUnavailable):  # asked, not needed, to prepare
            self.registered_when_prepared = registry.lookup(self.worker_id) is not None

    def close(self) -> None:
        self.closed = True


def test_a_worker_has_its_runner_prepare_before_it_registers_and_closes_it_if_that_fails(
    echo_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runner = _PreparingRunner("worker-prepares")
    assert Worker(get_settings(), worker_id=runner.worker_id, runner=runner).run()
    assert runner.registered_when_prepared is False
    assert runner.closed

    # The database is gone before the worker registers: the error is raised, and the runner,
    # already preparing (an agent guard, an agent user), is closed all the same.
    # (A socket directory with no server in it: every connection attempt fails at once.)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://nobody@/x?host={tmp_path}")
    reset_process_state()
    try:
        get_pool().timeout = 0.5  # the pool's wait for a connection; 10 s by default
        runner = _PreparingRunner("worker-cannot-register")
        with pytest.raises(DatabaseUnavailable):
            Worker(get_settings(), worker_id=runner.worker_id, runner=runner).run()
        assert runner.closed
    finally:
        reset_process_state()
