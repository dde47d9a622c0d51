"""The four templates run to completion on moto's interpreter, with a worker double standing in
for the Claude worker (it claims queued tasks and answers with their task tokens)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from autodev import callbacks
from autodev.config import get_settings
from autodev.db import connection
from autodev.local.stack import LocalStack
from autodev.local.testing import (
    StepFailed,
    WorkerDouble,
    default_answer,
    wait_for,
    wait_until_finished,
)
from autodev.orchestrator.queue import ClaimedTask
from autodev.workflows import (
    StartRequest,
    WorkflowStatus,
    pending_approvals,
    respond_to_approval,
    start_workflow,
)


def finished(workflow_id: str) -> WorkflowStatus:
    return wait_until_finished(workflow_id)


def _tasks(workflow_id: str) -> list[dict[str, Any]]:
    with connection() as conn:
        return conn.execute(
            "SELECT step_name, status, priority, allowed_tools, prompt, task_token IS NOT NULL "
            "AS has_token FROM autonomous_tasks WHERE workflow_id = %s ORDER BY created_at",
            (workflow_id,),
        ).fetchall()


def test_bug_fix_runs_to_completion(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    worker_double.start()
    started = start_workflow(
        StartRequest(
            "bug-fix", {"description": "NPE on bulk insert", "component": "AccountTrigger"}, "U1"
        )
    )
    assert started.created
    assert started.execution_name == f"bug-fix-{started.id.replace('-', '')[:8]}"
    assert started.execution_arn.endswith(":execution:autodev-bug-fix:" + started.execution_name)
    # Against moto there is no AWS console to link to, and this stack runs no local page.
    assert started.console_url == ""

    status = finished(started.id)
    assert status.status == "succeeded", (status.error, status.cause)
    assert worker_double.steps_answered() == [
        "Reproduce the bug",
        "Find the root cause",
        "Implement the fix",
        "Verify the fix",
    ]
    tasks = _tasks(started.id)
    assert all(t["has_token"] and t["priority"] == "high" for t in tasks)
    assert "NPE on bulk insert" in tasks[0]["prompt"]
    assert "AccountTrigger" in tasks[0]["prompt"]
    assert "Edit" in tasks[2]["allowed_tools"]
    assert "Edit" not in tasks[1]["allowed_tools"]
    assert status.output["result"] == {
        "summary": "Verify the fix: done",
        "tool": "apex_tests",  # the verification is the Apex tests, not an agent step
        "passed": True,
        "details": "Verify the fix: apex_tests passed",
    }
    assert status.finished_at is not None
    names = [(s.name, s.status) for s in status.steps]
    assert ("Verify the fix", "succeeded") in names
    assert names[-1] == ("Workflow succeeded", "succeeded")
    assert all(s.started_at and s.ended_at for s in status.steps)


def test_full_analysis_implements_each_prioritised_item(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    worker_double.start()
    started = start_workflow(
        StartRequest("full-analysis-improvement", {"target": "AccountService"}, "U1")
    )
    status = finished(started.id)
    assert status.status == "succeeded", (status.error, status.cause)
    answered = worker_double.steps_answered()
    assert answered[:3] == ["Run Code Analyzer", "Analyse code", "Prioritise improvements"]
    assert sorted(answered[3:5]) == ["Implement fix #1", "Implement fix #2"]
    assert answered[5:] == ["Run tests", "Generate report"]
    fixes = {c.task.context["item"]["title"] for c in worker_double.completions[3:5]}
    assert fixes == {"Bulkify AccountTrigger", "Add FLS checks"}
    assert len(status.output["steps"]["implement"]) == 2
    assert status.output["result"]["summary"] == "Generate report: done"


def test_full_analysis_skips_the_fixes_when_none_is_high_priority(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    def no_items(task: ClaimedTask) -> dict[str, Any]:
        answer = default_answer(task)
        if task.context["step"] == "prioritise":
            answer["items"] = []
        return answer

    worker_double.respond = no_items
    worker_double.start()
    status = finished(
        start_workflow(StartRequest("full-analysis-improvement", {"target": "X"}, "U1")).id
    )
    assert status.status == "succeeded"
    assert "Implement fix #1" not in worker_double.steps_answered()


def test_code_review_runs_its_three_reviews_at_the_same_time(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    # Code Analyzer (a tool step) runs first; the reviews are then held unanswered.
    released = threading.Event()
    worker_double.hold = lambda task: not task.context.get("tool") and not released.is_set()
    worker_double.start()
    started = start_workflow(StartRequest("code-review", {"target": "AccountTrigger"}, "U1"))
    # All three reviews are queued together, none waiting for another.
    pending = wait_for(
        lambda: (
            len(q := [t for t in _tasks(started.id) if t["status"] in ("queued", "running")]) == 3
            and q
        ),
        what="three reviews queued at once",
    )
    assert {t["step_name"] for t in pending} == {
        "Security review",
        "Performance review",
        "Quality review",
    }
    released.set()
    status = finished(started.id)
    assert status.status == "succeeded", (status.error, status.cause)
    assert worker_double.steps_answered()[0] == "Run Code Analyzer"
    assert worker_double.steps_answered()[4:] == ["Combine review findings", "Write review report"]
    reviews = status.output["steps"]["reviews"]
    assert reviews["security"]["summary"] == "Security review: done"
    assert reviews["quality"]["summary"] == "Quality review: done"


def _verifications(outcomes: list[bool]) -> Any:
    remaining = list(outcomes)

    def respond(task: ClaimedTask) -> dict[str, Any]:
        answer = default_answer(task)
        if task.context["step"] == "verify":
            answer["passed"] = remaining.pop(0)
            answer["details"] = "the reproducing test passes" if answer["passed"] else "still NPE"
        return answer

    return respond


def test_bug_fix_goes_back_to_the_fix_after_a_failed_verification(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    worker_double.respond = _verifications([False, True])
    worker_double.start()
    status = finished(
        start_workflow(StartRequest("bug-fix", {"description": "NPE on insert"}, "U1")).id
    )
    assert status.status == "succeeded"
    assert worker_double.steps_answered()[2:] == [
        "Implement the fix",
        "Verify the fix",
        "Implement the fix",
        "Verify the fix",
    ]
    # The second fix attempt was told what the failed verification said.
    second_fix = worker_double.completions[4].task
    assert "still NPE" in second_fix.prompt
    # Entering the fix state again is a new task, not a retry of the first one.
    assert second_fix.id != worker_double.completions[2].task.id


def test_bug_fix_fails_with_a_clear_cause_after_max_fix_attempts(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    local_stack.redefine("bug-fix", MaxFixAttempts=2)
    worker_double.respond = _verifications([False, False, True])
    worker_double.start()
    status = finished(
        start_workflow(StartRequest("bug-fix", {"description": "NPE on insert"}, "U1")).id
    )
    assert status.status == "failed"
    assert status.error == "VerificationFailed"
    assert status.cause is not None
    assert status.cause.startswith("The fix failed verification 2 times in a row")
    assert "still NPE" in status.cause
    assert worker_double.steps_answered().count("Implement the fix") == 2
    assert status.steps[-1].name == "Workflow failed"
    assert status.steps[-1].error == "VerificationFailed"


def test_a_failed_step_fails_the_workflow_with_its_error(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    def broken(task: ClaimedTask) -> dict[str, Any]:
        if task.context["step"] == "root_cause":
            raise StepFailed("Agent.BudgetExceeded", "the task spent its 5.00 USD budget")
        return default_answer(task)

    worker_double.respond = broken
    worker_double.start()
    status = finished(
        start_workflow(StartRequest("bug-fix", {"description": "NPE on insert"}, "U1")).id
    )
    assert status.status == "failed"
    assert status.error == "Agent.BudgetExceeded"
    assert status.cause == "the task spent its 5.00 USD budget"
    caught = [s for s in status.steps if s.name == "Find the root cause"]
    assert caught[0].status == "caught"
    assert caught[0].error == "Agent.BudgetExceeded"
    assert "Implement the fix" not in worker_double.steps_answered()


def test_the_outcome_is_delivered_to_the_callbacks(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    worker_double.start()
    started = start_workflow(StartRequest("code-review", {"target": "AccountTrigger"}, "U1"))
    finished(started.id)
    delivered = callbacks.get_result(started.id)
    assert isinstance(delivered, callbacks.CachedResult)
    assert delivered.target_id == started.id
    assert delivered.target_kind == "workflow"
    assert delivered.status == "succeeded"
    assert delivered.result["summary"] == "Write review report: done"
    assert delivered.result["console_url"] == (started.console_url or None)


def _answering(step: str, answer: dict[str, Any]) -> Any:
    def respond(task: ClaimedTask) -> dict[str, Any]:
        return answer if task.context["step"] == step else default_answer(task)

    return respond


def _approvals(workflow_id: str) -> int:
    with connection() as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM approvals WHERE workflow_id = %s", (workflow_id,)
        ).fetchone()
    assert row is not None
    return int(row["n"])


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        # The cause quotes the step's one-line 'details', else its answer text, else its JSON.
        (
            {"passed": False, "details": "AccountTrigger.trigger has no -meta.xml", "summary": "…"},
            "The validation said: AccountTrigger.trigger has no -meta.xml",
        ),
        (
            {"passed": False, "summary": "Validation failed: 2 components lack metadata"},
            "The validation said: Validation failed: 2 components lack metadata",
        ),
        # No 'passed' at all counts as failed.
        ({"error": "could not reach the org"}, '"error":"could not reach the org"'),
    ],
)
def test_a_deployment_that_fails_validation_asks_nobody_to_approve(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
    answer: dict[str, Any],
    said: str,
) -> None:
    worker_double.respond = _answering("validate", answer)
    worker_double.start()
    started = start_workflow(StartRequest("deployment", {"target_org": "staging"}, "U1"))
    status = finished(started.id)
    assert status.status == "failed"
    assert status.error == "ValidationFailed"
    assert status.cause is not None
    assert status.cause.startswith(
        "The deployment to staging did not pass validation, so no approval was requested."
    )
    assert said in status.cause
    assert worker_double.steps_answered() == ["Validate deployment"]
    assert "Request approval" not in [s.name for s in status.steps]
    assert _approvals(started.id) == 0
    assert status.steps[-1].name == "Workflow failed"
    assert status.steps[-1].error == "ValidationFailed"


@pytest.fixture
def approver(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("APPROVERS", "UAPPROVER1")
    get_settings.cache_clear()
    yield "UAPPROVER1"
    get_settings.cache_clear()


def test_a_deployment_whose_smoke_tests_fail_is_reported_live_and_failed(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
    approver: str,
) -> None:
    answer = {
        "passed": False,
        "details": "AccountServiceTest: 2 of 5 tests failed",
        "summary": "[scripted model] Smoke tests failed: ...",
    }
    worker_double.respond = _answering("smoke_test", answer)
    worker_double.start()
    started = start_workflow(StartRequest("deployment", {"target_org": "staging"}, "U1"))
    [approval] = wait_for(lambda: pending_approvals(started.id), what="an approval request")
    respond_to_approval(approval.id, approver, True, "ship it")
    status = finished(started.id)
    assert status.status == "failed"
    assert status.error == "SmokeTestsFailed"
    assert status.cause == (
        "The deployment to staging is live, but its smoke tests failed: it needs attention now "
        "(roll back or fix forward). The smoke tests said: AccountServiceTest: 2 of 5 tests failed"
    )
    assert worker_double.steps_answered() == [
        "Validate deployment",
        "Deploy to org",
        "Run smoke tests",
    ]
    assert "Record success" not in [s.name for s in status.steps]
