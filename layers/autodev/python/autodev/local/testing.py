"""Pytest fixtures for the local stack, and a stand-in for the Claude worker.

The project's pytest configuration loads this module as a plugin (``-p autodev.local.testing``
in ``addopts``), so every test can ask for these fixtures without importing them:

- ``local_stack``: a fresh migrated database (the ``database`` fixture) and a running
  :class:`~autodev.local.stack.LocalStack`, stopped (executions stopped, moto reset) after.
  It exports ``SLACK_WORKER_FUNCTION``, so Slack jobs go through moto to the Slack worker.
- ``worker_double``: a :class:`WorkerDouble` bound to that stack, not yet started.
- ``slack_sink``: a local Slack sink, with ``SLACK_API_URL`` and a placeholder bot token
  pointing this process's Slack calls at it (production code needs both; it never starts a
  sink itself).
- ``scripted_model``: a scripted model server reading tasks from the test's database, with
  ``AUTODEV_SCRIPTED_MODEL_URL`` set, for tests that run workers without the local stack.
- ``scaler_asks``: on that stack, the scaler's function answers with a stand-in that notes
  every event it is sent (through moto, as in AWS; the real one would start workers), and
  ``AUTODEV_SCALER_FUNCTION`` names it; the fixture reads what it was asked, in order.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from autodev.local.model.server import ScriptedModelServer
from autodev.local.model.tasks import script_for_task
from autodev.local.slack.services import PLACEHOLDER_TOKEN, SINK_URL_ENV
from autodev.local.slack.sink import SlackSink
from autodev.local.stack import LocalStack
from autodev.orchestrator import outcomes, queue
from autodev.orchestrator.queue import ClaimedTask
from autodev.workflows import sfn
from autodev.workflows.models import WorkflowStatus

Responder = Callable[[ClaimedTask], dict[str, Any]]


class StepFailed(Exception):
    """Raise from a responder to answer the step with SendTaskFailure."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(cause)
        self.error = error
        self.cause = cause


def default_answer(task: ClaimedTask) -> dict[str, Any]:
    """A plausible result for each catalog step, shaped as the state machines expect."""
    step = task.context.get("step")
    answer: dict[str, Any] = {"summary": f"{task.step_name}: done"}
    if step == "prioritise":
        answer["items"] = [{"title": "Bulkify AccountTrigger"}, {"title": "Add FLS checks"}]
    if step in {"verify", "validate", "smoke_test"}:  # the steps whose 'passed' is a gate
        answer["passed"] = True
    tool = task.context.get("tool")
    if tool:  # a deterministic step: what its tool would say when all is well
        answer.update(tool=tool, passed=True, details=f"{task.step_name}: {tool} passed")
        if tool == "deploy_validate":
            answer["job_id"] = "0Af000000000001AAA"
    return answer


@dataclass
class Completion:
    task: ClaimedTask
    claimed_at: float
    answered_at: float
    output: dict[str, Any] | None
    error: str | None = None


@dataclass
class WorkerDouble:
    """Claims queued tasks like a worker and answers Step Functions with their task tokens.

    ``respond`` maps a claimed task to its output, or raises StepFailed; ``hold`` keeps a
    claimed task unanswered while it returns True (checked every poll).
    """

    respond: Responder = default_answer
    hold: Callable[[ClaimedTask], bool] | None = None
    poll_seconds: float = 0.05
    worker_id: str = "worker-double"
    completions: list[Completion] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    errors: list[BaseException] = field(default_factory=list)

    def start(self) -> WorkerDouble:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="worker-double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                task = queue.claim_next(self.worker_id, lease_seconds=60)
                if task is None:
                    self._stop.wait(self.poll_seconds)
                    continue
                self._answer(task)
            except Exception as error:  # surfaced by the tests through .errors
                self.errors.append(error)
                self._stop.wait(self.poll_seconds)

    def _answer(self, task: ClaimedTask) -> None:
        claimed_at = time.monotonic()
        while self.hold is not None and self.hold(task) and not self._stop.is_set():
            self._stop.wait(self.poll_seconds)
        assert task.task_token is not None
        # As a worker does: record the outcome, then send it with the token the task holds
        # now (a retried step refreshes it), not the one it was claimed with.
        try:
            output = self.respond(task)
        except StepFailed as failed:
            queue.fail_task(
                task.id, self.worker_id, failed.cause, retryable=False, error_code=failed.error
            )
            outcomes.deliver_task(task.id)
            self.completions.append(
                Completion(task, claimed_at, time.monotonic(), None, failed.error)
            )
            return
        queue.complete_task(task.id, self.worker_id, output)
        outcomes.deliver_task(task.id)
        self.completions.append(Completion(task, claimed_at, time.monotonic(), output))

    def steps_answered(self) -> list[str]:
        return [c.task.step_name or "" for c in self.completions]


def wait_for(
    condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


# How often ``wait_until_finished`` asks Step Functions about a workflow whose row runs.
_EXECUTION_LOOK_SECONDS = 1.0


def wait_until_finished(
    workflow_id: str, timeout: float = 30.0, interval: float = 0.05
) -> WorkflowStatus:
    """The workflow's status once both its row and its execution have ended.

    The row says finished as soon as the last Lambda has recorded the outcome; the execution
    (and so its step history, including a final Fail state) ends a moment later, when that
    Lambda returns. Tests that look at steps or history wait for both. ``interval`` is how
    often the row is read: a benchmark looks seldom, so as not to load what it times.
    """
    from autodev.workflows import get_workflow_status

    # Watching must not load what it watches (moto and the stack's Lambdas share the test's
    # process): the whole status reads the execution's history (50 ms of CPU in moto), so it
    # is read once at the end; while the row says running, the execution is asked about only
    # every second, for an end it reached without the workflow recording it.
    asked_at = -1.0

    def ended() -> WorkflowStatus | None:
        nonlocal asked_at
        row = get_workflow_status(workflow_id, read_execution=False)
        if row.execution_arn is None:
            return None
        if not row.finished and time.monotonic() - asked_at < _EXECUTION_LOOK_SECONDS:
            return None
        asked_at = time.monotonic()
        try:
            described = sfn.sfn().describe_execution(executionArn=row.execution_arn)
        except ClientError as error:
            if sfn.error_code(error) != "ExecutionDoesNotExist":
                raise
        else:
            if described["status"] == "RUNNING":
                return None
        # The whole status: it also records an end the execution reached without the workflow.
        status = get_workflow_status(workflow_id)
        return status if status.finished else None

    found: WorkflowStatus = wait_for(
        ended, timeout=timeout, interval=interval, what=f"workflow {workflow_id} to end"
    )
    return found


@pytest.fixture
def local_stack(database: str) -> Iterator[LocalStack]:
    # No scaler poke: the test decides who works on queued tasks (usually worker_double).
    with LocalStack(poke_scaler=False) as stack:
        yield stack


_NOTING_HANDLER = """
import json
def handler(event, context):
    with open({events!r}, "a") as out:
        out.write(json.dumps(event) + "\\n")
    return {{}}
"""


@pytest.fixture
def scaler_asks(
    local_stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    from autodev.config import get_settings
    from autodev.local import lambdas
    from autodev.local.stack import FUNCTIONS_DIR, function_name
    from autodev.workflows.steps import SCALER_FUNCTION_ENV

    events = tmp_path / "scaler-events.jsonl"
    noting = tmp_path / "scaler_stand_in.py"
    noting.write_text(_NOTING_HANDLER.format(events=str(events)))
    scaler = function_name("scaler")
    monkeypatch.setenv(SCALER_FUNCTION_ENV, scaler)
    get_settings.cache_clear()
    lambdas.register({scaler: noting})

    def asked() -> list[dict[str, Any]]:
        """Every event sent so far, once the invocations under way have finished."""
        assert lambdas.wait_for_background(30)
        lines = events.read_text().splitlines() if events.exists() else []
        return [json.loads(line) for line in lines]

    try:
        yield asked
    finally:
        lambdas.register({scaler: FUNCTIONS_DIR / "scaler" / "handler.py"})
        get_settings.cache_clear()


@pytest.fixture
def worker_double(local_stack: LocalStack) -> Iterator[WorkerDouble]:
    double = WorkerDouble()
    try:
        yield double
    finally:
        double.stop()


def point_slack_at(sink: SlackSink, monkeypatch: pytest.MonkeyPatch) -> SlackSink:
    """Send this process's Slack calls to ``sink`` (as the local stack's sink service does)."""
    from autodev.slack.client import API_URL_ENV
    from autodev.slack.signing import BOT_TOKEN_ENV

    monkeypatch.setenv(API_URL_ENV, sink.api_url)
    monkeypatch.setenv(BOT_TOKEN_ENV, PLACEHOLDER_TOKEN)
    monkeypatch.setenv(SINK_URL_ENV, sink.url)
    return sink


@pytest.fixture
def slack_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackSink]:
    with SlackSink() as sink:
        yield point_slack_at(sink, monkeypatch)


@pytest.fixture
def scripted_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedModelServer]:
    from autodev.config import get_settings
    from autodev.models.providers import SCRIPTED_MODEL_URL_ENV

    with ScriptedModelServer(resolve=script_for_task) as server:
        monkeypatch.setenv(SCRIPTED_MODEL_URL_ENV, server.url)
        get_settings.cache_clear()
        yield server
    get_settings.cache_clear()
