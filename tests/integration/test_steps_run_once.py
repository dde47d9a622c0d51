"""A workflow step runs once: enqueue_task called again for the same attempt of a step (a Step
Functions Retry after the first call committed) finds the task it queued, with the new token;
a step of an ended workflow is refused. Rows are counted in Postgres; on the local stack the
responses of enqueue_task are lost on purpose (``lambdas.responses_lost``), so moto's
interpreter retries each agent Task for real, and Claude Code runs are counted by the scripted
model server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from autodev.config import get_settings
from autodev.db import connection
from autodev.errors import InvalidInput
from autodev.local import lambdas, orchestrator
from autodev.local.lambdas import LambdaContext, load_module
from autodev.local.model import service as scripted_model
from autodev.local.model.server import ScriptedModelServer
from autodev.local.stack import LocalStack
from autodev.local.testing import WorkerDouble, wait_until_finished
from autodev.orchestrator import queue
from autodev.workflows import StartRequest, sfn, start_workflow
from autodev.workflows.steps import WorkflowEnded

ROOT = Path(__file__).resolve().parents[2]
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:autodev-bug-fix:bug-fix-0a1b2c3d"
ENTERED = "2026-03-01T10:00:00.123Z"
TOOL_STEP = "Run Code Analyzer"  # code-review's first step, a tool step


def _workflow(status: str = "running", template: str = "bug-fix") -> str:
    workflow_id = str(uuid.uuid4())
    with connection() as conn:
        conn.execute(
            "INSERT INTO workflows (id, template, execution_name, requested_by, status) "
            "VALUES (%s, %s, %s, 'U1', %s)",
            (workflow_id, template, f"{template}-{workflow_id[:8]}", status),
        )
    return workflow_id


def _event(workflow_id: str, token: str, **changes: Any) -> dict[str, Any]:
    """What the bug-fix machine's "Implement the fix" Task sends to enqueue_task."""
    return {
        "task_token": token,
        "workflow_id": workflow_id,
        "template": "bug-fix",
        "step": "fix",
        "state": "Implement the fix",
        "execution_id": EXECUTION,
        "state_entered_at": ENTERED,
        "priority": "normal",
        "timeout_seconds": 1800,
        "context": {"input": {"description": "NPE on bulk insert"}, "steps": {}},
        **changes,
    }


def _enqueue(event: dict[str, Any]) -> str:
    handler = load_module(ROOT / "functions" / "enqueue_task" / "handler.py").handler
    answer: dict[str, Any] = handler(event, LambdaContext("enqueue_task", "arn:local"))
    return str(answer["task_id"])


def _tasks(workflow_id: str) -> list[dict[str, Any]]:
    with connection() as conn:
        rows = conn.execute(
            "SELECT id::text, step_name, status, attempts, task_token, outcome_sent_at "
            "FROM autonomous_tasks WHERE workflow_id = %s ORDER BY created_at",
            (workflow_id,),
        ).fetchall()
    return [dict(row) for row in rows]


def test_the_same_attempt_of_a_step_asked_for_again_is_one_task_with_the_newest_token(
    database: str,
) -> None:
    workflow_id = _workflow()
    first = _enqueue(_event(workflow_id, "token-1"))
    # The same event again (the same invocation delivered twice), then a Retry: Step Functions
    # waits on a new token for it.
    assert _enqueue(_event(workflow_id, "token-1")) == first
    assert _enqueue(_event(workflow_id, "token-2")) == first
    (task,) = _tasks(workflow_id)
    assert (task["id"], task["status"], task["task_token"]) == (first, "queued", "token-2")
    # The worker that claims it answers the token the task holds when it is done.
    claimed = queue.claim_next("w1", 60)
    assert claimed is not None
    assert claimed.id == first
    assert _enqueue(_event(workflow_id, "token-3")) == first  # a Retry while it runs
    assert queue.complete_task(first, "w1", {"summary": "fixed"})
    (pending,) = queue.pending_outcomes(task_id=first)
    assert pending.task_token == "token-3"


def test_a_state_entered_again_or_another_map_item_is_a_task_of_its_own(database: str) -> None:
    workflow_id = _workflow()
    first = _enqueue(_event(workflow_id, "token-1"))
    # bug-fix goes back to the fix after a failed verification: a new entry, a new task.
    again = _enqueue(_event(workflow_id, "token-2", state_entered_at="2026-03-01T10:05:00.456Z"))
    assert again != first
    # Map iterations share the state and the entered time; the item index tells them apart.
    analysis = _workflow(template="full-analysis-improvement")
    items = [
        _enqueue(
            _event(
                analysis,
                f"item-{index}",
                template="full-analysis-improvement",
                step="implement",
                state="Implement the improvement",
                item_index=index,
                context={"input": {}, "item": {"title": f"item {index}"}},
            )
        )
        for index in (0, 1, 0)
    ]
    assert items[0] != items[1]
    assert items[2] == items[0]
    assert len(_tasks(workflow_id)) == 2
    assert [t["step_name"] for t in _tasks(analysis)] == [
        "Implement the improvement #1",
        "Implement the improvement #2",
    ]


def test_a_retry_of_a_step_that_already_finished_sends_its_outcome_to_the_new_token(
    database: str,
) -> None:
    workflow_id = _workflow()
    task_id = _enqueue(_event(workflow_id, "token-1"))
    assert queue.claim_next("w1", 60) is not None
    assert queue.complete_task(task_id, "w1", {"summary": "fixed"})
    assert queue.mark_outcome_sent(task_id)  # sent to token-1, which no longer waits
    assert _enqueue(_event(workflow_id, "token-2")) == task_id
    (task,) = _tasks(workflow_id)
    assert (task["status"], task["attempts"], task["outcome_sent_at"]) == ("succeeded", 1, None)
    (pending,) = queue.pending_outcomes(task_id=task_id)
    assert (pending.task_token, pending.result) == ("token-2", {"summary": "fixed"})


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled", "timed_out"])
def test_a_step_of_a_workflow_that_has_ended_is_refused_and_nothing_is_queued(
    database: str, status: str
) -> None:
    workflow_id = _workflow(status)
    with pytest.raises(WorkflowEnded, match=f"has already ended \\({status}\\)"):
        _enqueue(_event(workflow_id, "token-1"))
    assert _tasks(workflow_id) == []
    # A step queued before the end is not touched by a late Retry either.
    running = _workflow()
    task_id = _enqueue(_event(running, "token-1"))
    with connection() as conn:
        conn.execute("UPDATE workflows SET status = %s WHERE id = %s", (status, running))
    with pytest.raises(WorkflowEnded):
        _enqueue(_event(running, "token-2"))
    assert [(t["id"], t["task_token"]) for t in _tasks(running)] == [(task_id, "token-1")]


def _first_call_of_each_step() -> Callable[[Any], bool]:
    """Lose the response of the first call for each attempt of a step (its retry is answered)."""
    seen: set[tuple[Any, ...]] = set()

    def first(event: Any) -> bool:
        key = (event["state"], event["state_entered_at"], event.get("item_index"))
        if key in seen:
            return False
        seen.add(key)
        return True

    return first


def _history(execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = sfn.sfn().get_execution_history(
        executionArn=execution_arn, maxResults=1000
    )["events"]
    return events


def test_step_functions_retrying_enqueue_after_its_commit_queues_each_step_once(
    local_stack: LocalStack, worker_double: WorkerDouble
) -> None:
    worker_double.start()
    with lambdas.responses_lost("enqueue_task", _first_call_of_each_step()) as lost:
        started = start_workflow(StartRequest("bug-fix", {"description": "NPE on insert"}, "U1"))
        status = wait_until_finished(started.id, timeout=90)
    assert status.status == "succeeded", (status.error, status.cause)
    tasks = _tasks(started.id)
    assert [t["step_name"] for t in tasks] == [
        "Reproduce the bug",
        "Find the root cause",
        "Implement the fix",
        "Verify the fix",
    ]
    assert len(lost) == 4  # every step's first enqueue "failed" after it had committed
    assert all(t["status"] == "succeeded" and t["attempts"] == 1 for t in tasks)
    assert len(worker_double.completions) == 4
    history = _history(started.execution_arn or "")
    failed = [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"]
    assert failed == [lambdas.LOST_RESPONSE_ERROR] * 4  # each retried once, then answered
    kinds = [e["type"] for e in history]
    # the steps, registering the workflow (the first state) and recording the outcome
    assert kinds.count("TaskSucceeded") == 4 + 2


@contextmanager
def _stack_with_claude_workers() -> Iterator[LocalStack]:
    get_settings.cache_clear()
    with LocalStack(services=[scripted_model.SERVICE, orchestrator.SERVICE]) as running:
        yield running


@pytest.mark.slow
def test_a_lost_enqueue_response_does_not_run_claude_code_twice(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTODEV_MODEL_PROVIDER", "scripted")
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "5000")
    monkeypatch.setenv("ORCHESTRATOR_MAX_INSTANCES", "3")
    with (
        _stack_with_claude_workers() as stack,
        lambdas.responses_lost("enqueue_task", _first_call_of_each_step()) as lost,
    ):
        model = stack.service(scripted_model.SERVICE.name)
        assert isinstance(model, ScriptedModelServer)
        started = start_workflow(StartRequest("code-review", {"target": "force-app"}, "U1"))
        status = wait_until_finished(started.id, timeout=240)
        runs = {t["id"]: model.task_stats(t["id"]) for t in _tasks(started.id)}
    assert status.status == "succeeded", (status.error, status.cause)
    assert len(lost) == 6  # each step (Code Analyzer, five agent steps) was enqueued twice
    tasks = _tasks(started.id)
    assert len(tasks) == 6
    assert all(t["status"] == "succeeded" and t["attempts"] == 1 for t in tasks)
    # Claude Code ran once per agent step, on the scripted model server's count (the tool
    # step runs Code Analyzer, never Claude Code).
    assert {task_id: stats and stats.runs for task_id, stats in runs.items()} == {
        t["id"]: None if t["step_name"] == TOOL_STEP else 1 for t in tasks
    }


def test_a_payload_whose_tool_is_not_the_catalogs_is_refused_and_nothing_is_queued(
    database: str,
) -> None:
    # A tool step runs the tool its template names; an agent step runs no tool.
    workflow_id = _workflow(template="deployment")
    validate = {
        "template": "deployment",
        "step": "validate",
        "state": "Validate deployment",
        "context": {"input": {"target_org": "ci"}, "steps": {}},
    }
    for tool in (None, "apex_tests"):
        with pytest.raises(InvalidInput, match="the payload's 'tool' must match"):
            _enqueue(_event(workflow_id, "token-1", **validate, tool=tool))
    with pytest.raises(InvalidInput, match="runs an agent"):
        _enqueue(_event(_workflow(), "token-1", tool="apex_tests"))
    assert _tasks(workflow_id) == []
    _enqueue(_event(workflow_id, "token-1", **validate, tool="deploy_validate"))
    with connection() as conn:
        row = conn.execute(
            "SELECT context FROM autonomous_tasks WHERE workflow_id = %s", (workflow_id,)
        ).fetchone()
    assert row is not None
    assert row["context"]["tool"] == "deploy_validate"
