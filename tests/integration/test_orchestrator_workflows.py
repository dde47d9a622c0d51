"""Workers under real workflows: the local stack (moto's Step Functions interpreter), the
scaler starting worker processes, the rescuer loop; outcomes reach Step Functions once."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from autodev.config import get_settings
from autodev.db import connection
from autodev.local import orchestrator
from autodev.local.stack import LocalStack
from autodev.local.testing import wait_for, wait_until_finished
from autodev.orchestrator import queue
from autodev.workflows import StartRequest, get_workflow_status, sfn, start_workflow


@pytest.fixture
def stack_env(database: str, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("AUTODEV_MODEL_PROVIDER", "scripted")
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "3000")
    monkeypatch.setenv("ORCHESTRATOR_MAX_INSTANCES", "3")
    monkeypatch.setenv("ORCHESTRATOR_LEASE_SECONDS", "1.5")
    monkeypatch.setenv("TASK_RETRY_BACKOFF_MS", "50")
    return monkeypatch


@contextmanager
def _stack() -> Iterator[LocalStack]:
    get_settings.cache_clear()
    with LocalStack(services=[orchestrator.SERVICE]) as running:
        yield running


def _tasks(workflow_id: str) -> list[dict[str, Any]]:
    with connection() as conn:
        rows = conn.execute(
            "SELECT id::text, step_name, status, attempts, error_code, last_error, "
            "outcome_sent_at, lease_owner FROM autonomous_tasks WHERE workflow_id = %s "
            "ORDER BY created_at",
            (workflow_id,),
        ).fetchall()
    return [dict(row) for row in rows]


def test_a_step_that_always_fails_ends_dead_and_fails_its_workflow_with_the_cause(
    stack_env: pytest.MonkeyPatch,
) -> None:
    stack_env.setenv("AUTODEV_SFDX_REPO", "/nonexistent/sfdx-repo")
    stack_env.setenv("TASK_MAX_ATTEMPTS", "2")
    with _stack():
        started = start_workflow(
            StartRequest("bug-fix", {"description": "NPE on bulk insert"}, "U1")
        )
        status = wait_until_finished(started.id, timeout=90)
    assert status.status == "failed"
    assert status.error == queue.ERROR_RETRIES_EXHAUSTED
    assert "/nonexistent/sfdx-repo is not a directory" in (status.cause or "")
    assert "gave up after 2 attempts" in (status.cause or "")
    (task,) = _tasks(started.id)
    assert (task["status"], task["attempts"]) == ("dead", 2)
    assert task["outcome_sent_at"] is not None


def test_a_killed_worker_s_step_is_rescued_and_its_outcome_reaches_the_workflow_once(
    stack_env: pytest.MonkeyPatch,
) -> None:
    stack_env.setenv("AUTODEV_WORKER_MODULE", "autodev.local.echo")
    stack_env.setenv("AUTODEV_ECHO_SECONDS", "1.5")
    with _stack():
        started = start_workflow(StartRequest("code-review", {"target": "force-app"}, "U1"))
        running = wait_for(
            lambda: next((t for t in _tasks(started.id) if t["status"] == "running"), None),
            what="a step to start",
        )
        victim_pid = int(running["lease_owner"].split("-")[-2])
        os.kill(victim_pid, signal.SIGKILL)
        status = wait_for(
            lambda: (s := get_workflow_status(started.id)).finished and s,
            timeout=90,
            what="the workflow to finish",
        )
        # The row says finished as soon as the last Lambda has recorded the outcome; the
        # execution (and its history) ends a moment later, when that Lambda returns.
        wait_for(
            lambda: (
                sfn.sfn().describe_execution(executionArn=started.execution_arn)["status"]
                != "RUNNING"
            ),
            what="the execution to end",
        )
        history = sfn.sfn().get_execution_history(
            executionArn=started.execution_arn, maxResults=1000
        )["events"]
    assert status.status == "succeeded", (status.error, status.cause)
    tasks = _tasks(started.id)
    assert len(tasks) == 6  # Code Analyzer and five agent steps
    assert all(t["status"] == "succeeded" and t["outcome_sent_at"] for t in tasks)
    rescued = next(t for t in tasks if t["id"] == running["id"])
    assert rescued["attempts"] == 2
    assert rescued["lease_owner"] is None
    kinds = [event["type"] for event in history]
    # One success per agent step, plus the Lambda tasks that register the workflow and record
    # the outcome: nothing was lost, nothing delivered twice, no step failed.
    assert kinds.count("TaskSucceeded") == len(tasks) + 2
    assert "TaskFailed" not in kinds
