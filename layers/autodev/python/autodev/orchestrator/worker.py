"""The worker: claim a task, run it, record and deliver its outcome; exit when idle.

One task at a time. While a task runs, a lease keeper renews its lease and sends Step
Functions heartbeats. The outcome is committed together with the task's usage and artifacts,
then sent to Step Functions (see ``outcomes``: an outcome the worker could not send stays in
the outbox for the rescuer); a finished task's result is then published
(``task_results``: cached, sent to its callbacks, ``task:completed`` / ``task:failed``). A
worker whose lease was lost records nothing: the task belongs to someone else. After
``ORCHESTRATOR_IDLE_TIMEOUT`` ms with nothing to claim, it exits.

A finished attempt is the expensive part (a Claude Code session), so the worker does not drop
it when the database is unreachable: it keeps the outcome in memory and tries again, with
backoff, until the database answers or the attempt's deadline passes (its time limit plus
``queue.RECORD_GRACE_SECONDS``). Meanwhile the lease keeper goes on renewing (and
heartbeating the step), and the rescuer, which sees the lease lapse, asks whether this worker
lives before it hands the task to another. Bookkeeping the task can do without (progress, the
worker's registry row, metrics of the start) never stops the worker, and the worker never waits
on Slack: live progress is sent in the background (see ``progress_hook``).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from types import FrameType
from typing import Any, TypeVar

from autodev import background
from autodev.config import Settings
from autodev.db import DatabaseUnavailable, connection
from autodev.errors import AutodevError
from autodev.observability import (
    Metric,
    appended_keys,
    best_effort,
    child_logger,
    count,
    logger,
)
from autodev.orchestrator import metrics, outcomes, queue, registry, task_results, wakeup
from autodev.orchestrator.execution import Execution, TaskRunner, build_result
from autodev.orchestrator.lease import LeaseKeeper
from autodev.orchestrator.progress_hook import ProgressHook
from autodev.orchestrator.queue import ClaimedTask
from autodev.progress import slack_updates

log = child_logger(__name__)

# The error codes of a task stopped by a budget, and which budget it was.
_BUDGETS = {queue.ERROR_BUDGET: "task", queue.ERROR_WORKFLOW_BUDGET: "workflow"}

# How often an idle worker looks for work (with jitter, so idle workers do not march in step).
POLL_SECONDS = 0.25
# The background lane waits at most this long for a task's agent to start: Claude Code is up
# in about half a second; one that has had no answer by then (an API in trouble, retrying)
# has its step's progress go on all the same.
LANE_HOLD_SECONDS = 5.0
# Waits between tries to record an outcome while the database is unreachable: doubling from
# the first to the longest, with jitter, until the attempt's deadline.
RECORD_RETRY_FIRST_SECONDS = 0.5
RECORD_RETRY_MAX_SECONDS = 15.0

T = TypeVar("T")


class _GaveUp(Exception):
    """The database stayed unreachable until the attempt's deadline; the outcome is lost."""


class _LeaseLost(Exception):
    """The worker no longer holds the lease; the transaction is rolled back."""


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def make_runner(settings: Settings, worker_id: str) -> TaskRunner:
    """The runner a worker uses unless it is given one: Claude Code for agent steps, the tool
    runner for deterministic steps (a task whose context names a tool)."""
    from autodev.orchestrator.claude_task import ClaudeCodeTaskRunner
    from autodev.orchestrator.tool_task import StepRunner, ToolTaskRunner

    agent = ClaudeCodeTaskRunner(settings, worker_id)
    return StepRunner(agent, ToolTaskRunner(settings, patches=agent.patches))


class Worker:
    def __init__(
        self,
        settings: Settings,
        *,
        worker_id: str | None = None,
        runner: TaskRunner | None = None,
        launcher: str = "local",
        max_tasks: int | None = None,
    ) -> None:
        self.settings = settings
        self.worker_id = worker_id or new_worker_id()
        self.runner = runner or make_runner(settings, self.worker_id)
        self.launcher = launcher
        self.max_tasks = max_tasks
        self.tasks_run = 0
        self._stopping = threading.Event()
        self._abandoned: str | None = None
        # The next task, claimed with the last completion (``_succeed``); run_task alone (a
        # caller driving the worker task by task) never claims one.
        self._claimed_next: ClaimedTask | None = None
        self._looping = False
        self._listener = wakeup.Listener(settings)
        # The background lane (``_background_lane``), and whether it may go on: it is held
        # while a task's agent starts (``_run_task``).
        self._aftermath: ThreadPoolExecutor | None = None
        self._lane_open = threading.Event()
        self._lane_open.set()
        self._lane_held_until = 0.0  # time.monotonic()

    def request_stop(self, *_: Any) -> None:
        """Finish the current task, then exit (SIGTERM: ECS stopping the task)."""
        self._stopping.set()

    def abandon(self, reason: str) -> None:
        """Stop the current task now (it ends failed with ``reason``), then exit: whoever the
        worker would report to is gone (the local stack that started it)."""
        self._abandoned = reason
        self._stopping.set()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            self.request_stop()

        signal.signal(signal.SIGTERM, handler)

    def run(self) -> str:
        """Work until idle for ORCHESTRATOR_IDLE_TIMEOUT ms; returns why the worker stopped."""
        with appended_keys(worker_id=self.worker_id):
            return self._run()

    def _goes_on(self) -> bool:
        """Whether the loop will claim another task after this one."""
        return (
            self._looping
            and not self._stopping.is_set()
            and (self.max_tasks is None or self.tasks_run + 1 < self.max_tasks)
        )

    def _run(self) -> str:
        idle_limit = self.settings.orchestrator_idle_timeout / 1000
        self._looping = True
        instance = registry.ecs_task_arn() if self.launcher == "ecs" else None
        prepare = getattr(self.runner, "prepare", None)
        if callable(prepare):
            # In the background, while the worker registers and claims: a cold worker's first
            # task waited 15-45 ms for it when it began after the registration (measured).
            prepare()
        reason = "stopped"
        try:
            registry.register(self.worker_id, self.launcher, instance)
            idle_since = time.monotonic()
            while not self._stopping.is_set():
                if self.max_tasks is not None and self.tasks_run >= self.max_tasks:
                    reason = f"ran {self.tasks_run} task(s)"
                    break
                # Claimed already with the last completion, when the worker went on.
                task, self._claimed_next = self._claimed_next, None
                if task is None:
                    try:
                        task = queue.claim_next(
                            self.worker_id, self.settings.orchestrator_lease_seconds
                        )
                    except DatabaseUnavailable as error:
                        log.warning("claim failed: %s", error)
                        task = None
                if task is None:
                    if time.monotonic() - idle_since >= idle_limit:
                        reason = f"idle for {idle_limit:g} s"
                        break
                    if not self._listener.listening and self._listener.listen():
                        continue  # listening now: claim once more, for what came before
                    self._wait_for_work(POLL_SECONDS * random.uniform(0.5, 1.5))  # noqa: S311
                    continue
                self.run_task(task)
                self.tasks_run += 1
                idle_since = time.monotonic()
        finally:
            self._looping = False
            self._listener.close()
            if self._aftermath is not None:
                self._aftermath.shutdown(wait=True)
                self._aftermath = None
            if self._claimed_next is not None:  # told to stop before starting it
                with best_effort("release_claim", log, task_id=self._claimed_next.id):
                    queue.release_claim(self._claimed_next.id, self.worker_id)
                self._claimed_next = None
            # The runner's agent guard and agent user (Claude Code's runner) end with the loop.
            close = getattr(self.runner, "close", None)
            if callable(close):
                close()
            # Progress went to Slack from the background sender; what is due as the worker
            # leaves goes now, once, and anything still pending goes with the delivery sweep.
            with best_effort("slack_status_flush", log):
                slack_updates.flush_due()
            try:
                registry.stopped(self.worker_id, reason)
            except AutodevError as error:
                log.warning("worker %s not marked stopped: %s", self.worker_id, error)
        log.info("worker %s exits: %s", self.worker_id, reason)
        return reason

    def _wait_for_work(self, seconds: float) -> None:
        """Until a task is queued (a notification), told to stop, or ``seconds`` pass."""
        # Not listening (the database could not be reached): the poll interval.
        if not self._listener.wait(seconds) and not self._listener.listening:
            self._stopping.wait(seconds)

    # --- one task ---
    def run_task(self, task: ClaimedTask) -> Execution:
        """Run one claimed task; every log line meanwhile names the task, workflow and step."""
        with appended_keys(
            task_id=task.id,
            workflow_id=task.workflow_id,
            step=task.step_name,
            attempt=task.attempts,
        ):
            return self._run_task(task)

    def _run_task(self, task: ClaimedTask) -> Execution:
        dims = {"task_id": task.id, "worker": self.worker_id, "attempt": task.attempts}
        # The start's bookkeeping goes on beside the agent's start rather than before it (two
        # commits: 2-5 ms between the claim and Claude Code's start in the warm runs traced),
        # and is over before the outcome is recorded: the row never names a finished task.
        noting = background.started("task-start", self._note_start, task, dims)
        log.info("task started", extra={"task_type": task.task_type})
        # In the loop, progress goes through the background lane, behind the last task's. The
        # lane holds what it has not begun while the task's agent starts, until the runner
        # reports it up (or the task ends): Claude Code's start-up takes all the CPU it gets,
        # and a fresh worker's first report alone (the progress and Slack modules, its first
        # AWS client) is 0.2 s of CPU, which held the model's first request back by a tenth of
        # a second on two cores (issue 18).
        lane = self._background_lane()
        reports_start = getattr(self.runner, "reports_agent_start", None)
        if lane is not None and callable(reports_start) and reports_start(task):
            self._lane_held_until = time.monotonic() + LANE_HOLD_SECONDS
            self._lane_open.clear()
        progress = ProgressHook(task.id, submit=lane, on_agent_started=self._lane_open.set)
        progress.start(
            task.task_type, task.workflow_id, task.step_name, tool=bool(task.context.get("tool"))
        )
        started = time.monotonic()
        keeper = LeaseKeeper(
            task.id,
            self.worker_id,
            self.settings.orchestrator_lease_seconds,
            task_token=task.task_token,
            heartbeat_seconds=float(getattr(self.settings, "workflow_heartbeat_seconds", 0) or 0),
        ).start()

        def should_stop() -> str | None:
            return self._abandoned or keeper.stop_reason()

        try:
            try:
                execution = self._execute(task, should_stop, progress)
            finally:
                self._lane_open.set()  # the task is over, whether its agent said it was up
                noting.result()
            seconds = time.monotonic() - started
            if keeper.lease_lost:
                log.warning(
                    "task %s: %s; its outcome is not recorded here", task.id, keeper.stop_reason()
                )
                with best_effort("task_finished_metric", log, task_id=task.id):
                    metrics.record(
                        "orchestrator.task.finished",
                        seconds,
                        "Seconds",
                        {**dims, "outcome": "lease_lost"},
                    )
                progress.finish(False, keeper.stop_reason() or "the lease was lost")
                self._task_done(False)
                return execution
            # The keeper goes on renewing while the outcome is recorded, however long the
            # database takes to answer.
            deliver = (
                self._succeed(task, execution, seconds, dims)
                if execution.ok
                else self._fail(task, execution, seconds, dims)
            )
        finally:
            keeper.stop()
        # Free before Step Functions hears of it: the next step, queued as soon as it does,
        # finds this worker counted as capacity, and the scaler starts no other for it.
        self._task_done(execution.ok)
        if deliver:
            self._deliver(task)
        log.info(
            "task finished",
            extra={
                "ok": execution.ok,
                "seconds": round(seconds, 1),
                "cost_usd": round(execution.usage.cost_usd, 6),
                "turns": execution.turns,
            },
        )
        # Through the background lane in the loop: the next task need not wait for either.
        progress.finish(
            execution.ok,
            (execution.summary if execution.ok else execution.error or "failed")[:500],
            {
                "cost_usd": round(execution.usage.cost_usd, 6),
                "tokens": execution.usage.total_tokens,
                "files_modified": len(execution.files_changed),
            },
        )
        # After progress.finish: publishing marks a task's progress finished too, which would
        # otherwise keep the final figures above from it. A retried task has nothing to publish.
        lane = self._background_lane()
        if lane is not None:
            lane(self._publish, task, True)
        else:
            self._publish(task, False)
        return execution

    def _background_lane(self) -> Callable[..., Any] | None:
        """Where the loop sends what a task's next step need not wait for (its progress
        reports, its result's publication): one thread, in order, joined when the loop ends.
        None outside the loop (``run_task`` called on its own does them before returning)."""
        if not self._looping:
            return None
        if self._aftermath is None:
            self._aftermath = ThreadPoolExecutor(1, thread_name_prefix="worker-background")
        aftermath = self._aftermath

        def submit(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
            return aftermath.submit(self._when_lane_open, call, *args, **kwargs)

        return submit

    def _when_lane_open(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``call`` in the background lane, once the lane is not held (``_run_task``), or
        held no longer than LANE_HOLD_SECONDS."""
        self._lane_open.wait(max(0.0, self._lane_held_until - time.monotonic()))
        return call(*args, **kwargs)

    def _note_start(self, task: ClaimedTask, dims: dict[str, Any]) -> None:
        """The worker's registry row names the task (the rescuer spares a live worker's lapsed
        lease only for the task its row names), and the start is counted."""
        with best_effort("worker_registry", log, task_id=task.id):
            registry.seen(self.worker_id, task.id)
        with best_effort("task_started_metric", log, task_id=task.id):
            metrics.record("orchestrator.task.started", 1, "Count", dims)

    def _publish(self, task: ClaimedTask, in_background: bool) -> None:
        """Publish a task's result (best effort: the delivery sweep publishes what is missed),
        its log lines naming it in the background lane too (where the loop's keys name the
        next task)."""
        keys = {"task_id": task.id, "workflow_id": task.workflow_id, "step": task.step_name}
        if in_background:
            logger.thread_safe_append_keys(**keys)
        try:
            task_results.publish_task(task.id)
        finally:
            if in_background:
                logger.thread_safe_remove_keys(list(keys))

    def _task_done(self, ok: bool) -> None:
        with best_effort("worker_registry", log):
            registry.task_done(self.worker_id, ok)

    def _record(self, task: ClaimedTask, write: Callable[[Any], T]) -> T:
        """``write(conn)`` in one transaction, tried again while the database is unreachable
        until the attempt's deadline; raises _GaveUp then (the outcome is lost)."""
        delay = RECORD_RETRY_FIRST_SECONDS
        tries = 0
        while True:
            tries += 1
            try:
                with connection() as conn:
                    result = write(conn)
            except DatabaseUnavailable as error:
                left = (task.deadline - datetime.now(UTC)).total_seconds()
                if left <= 0:
                    log.error(
                        "task %s: the outcome could not be recorded before the attempt's "
                        "deadline (%s tries): %s",
                        task.id,
                        tries,
                        error,
                    )
                    raise _GaveUp from error
                wait = min(left, delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter
                log.warning(
                    "task %s: the outcome is kept and recorded when the database answers "
                    "(try %s failed: %s; next in %.1f s)",
                    task.id,
                    tries,
                    error,
                    wait,
                )
                time.sleep(wait)
                delay = min(RECORD_RETRY_MAX_SECONDS, delay * 2)
                continue
            if tries > 1:
                log.info("task %s: the outcome is recorded (try %s)", task.id, tries)
            return result

    def _execute(
        self, task: ClaimedTask, should_stop: Callable[[], str | None], progress: ProgressHook
    ) -> Execution:
        try:
            return self.runner.execute(task, should_stop, progress)
        except Exception as error:  # an unexpected failure of ours: the task is retried
            log.exception("task %s failed in the worker", task.id)
            return Execution(
                ok=False, error=f"the worker failed: {type(error).__name__}: {error}"[:2000]
            )

    def _usage(self, conn: Any, task: ClaimedTask, execution: Execution) -> None:
        usage = execution.usage
        queue.record_usage(
            conn,
            task.id,
            model=execution.model,
            model_provider=execution.provider,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_creation_tokens=usage.cache_creation_tokens,
            cost_usd=usage.cost_usd,
            turns=execution.turns,
        )

    def _finished_metrics(
        self, task: ClaimedTask, execution: Execution, seconds: float, dims: dict[str, Any]
    ) -> list[metrics.Metric]:
        outcome_dims = {**dims, "outcome": "succeeded" if execution.ok else "failed"}
        rows: list[metrics.Metric] = [
            ("orchestrator.task.finished", seconds, "Seconds", outcome_dims),
        ]
        if execution.provider not in ("echo", "none", "tool"):
            model_dims = {**dims, "model": execution.model, "provider": execution.provider}
            rows += [
                ("orchestrator.task.cost_usd", execution.usage.cost_usd, "USD", model_dims),
                (
                    "orchestrator.task.total_tokens",
                    execution.usage.total_tokens,
                    "Count",
                    model_dims,
                ),
                ("orchestrator.task.files_changed", len(execution.files_changed), "Count", dims),
            ]
        return rows

    def _artifacts(self, conn: Any, task: ClaimedTask, execution: Execution) -> dict[str, Any]:
        import json

        from autodev.callbacks.results import save_artifact
        from autodev.orchestrator.execution import MAX_SUMMARY_CHARS

        stored: dict[str, Any] = {}

        def keep(name: str, body: str, content_type: str) -> None:
            artifact_id = save_artifact(task.id, name, body, content_type=content_type, conn=conn)
            stored[name] = {"id": artifact_id, "bytes": len(body.encode())}

        if execution.diff:
            keep("diff", execution.diff, "text/x-diff")
        if len(execution.summary) > MAX_SUMMARY_CHARS:
            keep("report", execution.summary, "text/markdown")
        if execution.transcript:
            body = "\n".join(json.dumps(event, default=str) for event in execution.transcript)
            keep("transcript", body, "application/x-ndjson")
        return stored

    def _succeed(
        self, task: ClaimedTask, execution: Execution, seconds: float, dims: dict[str, Any]
    ) -> bool:
        """Record the success; True when it is recorded and Step Functions is to be told."""

        goes_on = self._goes_on()

        def write(conn: Any) -> ClaimedTask | None:
            artifacts = self._artifacts(conn, task, execution)
            result = build_result(task, execution, artifacts)
            self._usage(conn, task, execution)
            claimed = None
            if goes_on:
                # The completion and the claim of the next task in one round trip (committed
                # with the rest of the outcome).
                completed, claimed = queue.complete_and_claim_next(
                    task.id,
                    self.worker_id,
                    result,
                    self.settings.orchestrator_lease_seconds,
                    conn=conn,
                )
            else:
                completed = queue.complete_task(task.id, self.worker_id, result, conn=conn)
            if not completed:
                raise _LeaseLost
            metrics.record_many(self._finished_metrics(task, execution, seconds, dims), conn=conn)
            return claimed

        try:
            self._claimed_next = self._record(task, write)
        except _LeaseLost:
            log.warning("task %s finished after its lease was lost; result dropped", task.id)
            return False
        except _GaveUp:
            return False
        return True

    def _fail(
        self, task: ClaimedTask, execution: Execution, seconds: float, dims: dict[str, Any]
    ) -> bool:
        """Record the failed attempt; True when it is recorded and final (Step Functions is
        to be told; a retryable failure went back to the queue)."""
        error = execution.error or "the task failed"

        def write(conn: Any) -> queue.FailureOutcome:
            self._usage(conn, task, execution)
            if execution.diff:
                self._artifacts(conn, task, Execution(ok=False, diff=execution.diff))
            outcome = queue.fail_task(
                task.id,
                self.worker_id,
                error,
                retryable=execution.retryable,
                error_code=execution.error_code,
                conn=conn,
            )
            if outcome is None:
                raise _LeaseLost
            metrics.record_many(self._finished_metrics(task, execution, seconds, dims), conn=conn)
            return outcome

        try:
            outcome = self._record(task, write)
        except _LeaseLost:
            log.warning("task %s failed after its lease was lost; nothing recorded", task.id)
            return False
        except _GaveUp:
            return False
        log.info(
            "task %s attempt %s failed (%s): %s", task.id, task.attempts, outcome.status, error
        )
        if outcome.status == "dead":
            count(Metric.TASKS_DEAD)
        if execution.error_code in _BUDGETS:
            count(Metric.BUDGET_STOPS, budget=_BUDGETS[execution.error_code])
        return outcome.final

    def _deliver(self, task: ClaimedTask) -> None:
        """Tell Step Functions, with the token it waits on now (read from the task's row, not
        the one claimed: a retried step refreshes it)."""
        if not task.task_token:
            return
        try:
            outcomes.deliver_task(task.id)
        except (outcomes.DeliveryFailed, DatabaseUnavailable) as error:
            log.warning("outcome of task %s left for the rescuer: %s", task.id, error)
