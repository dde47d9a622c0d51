"""Starting, idempotency, cancelling, and requests that must change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from autodev import audit
from autodev.db import connection
from autodev.errors import AutodevError, InvalidInput, NotFound
from autodev.local.stack import LocalStack
from autodev.local.testing import WorkerDouble, wait_for
from autodev.workflows import (
    StartRequest,
    cancel_workflow,
    get_workflow_status,
    sfn,
    start_workflow,
)


def _counts() -> dict[str, int]:
    with connection() as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM workflows) AS workflows,"
            " (SELECT count(*) FROM autonomous_tasks) AS tasks,"
            " (SELECT count(*) FROM audit_log) AS audit,"
            " (SELECT count(*) FROM approvals) AS approvals"
        ).fetchone()
    assert row is not None
    return dict(row)


def _executions(stack: LocalStack) -> list[dict[str, Any]]:
    client = sfn.sfn()
    found: list[dict[str, Any]] = []
    for arn in stack.state_machine_arns.values():
        found += client.list_executions(stateMachineArn=arn)["executions"]
    return found


BAD_REQUESTS: list[tuple[str, Any, type[Exception], str]] = [
    ("bug-fx", {"description": "x y z"}, NotFound, "no workflow template 'bug-fx'"),
    ("bug-fix", {}, InvalidInput, "'description' is a required property"),
    ("bug-fix", {"description": "NPE", "extra": 1}, InvalidInput, "Additional properties"),
    ("deployment", {"target_org": "prod; rm -rf /"}, InvalidInput, "at target_org"),
    ("code-review", ["AccountTrigger"], InvalidInput, "is not of type 'object'"),
]


def test_bad_requests_get_a_clear_message_and_change_nothing(
    local_stack: LocalStack,
) -> None:
    before = _counts()
    # One stack for every case: each would otherwise pay for its own database and stack.
    for template, given, error, message in BAD_REQUESTS:
        with pytest.raises(error, match=message):
            start_workflow(StartRequest(template, given, "U1"))
    assert _counts() == before
    assert _executions(local_stack) == []


def test_bad_options_change_nothing(local_stack: LocalStack) -> None:
    before = _counts()
    with pytest.raises(InvalidInput, match="priority must be one of"):
        start_workflow(StartRequest("bug-fix", {"description": "NPE"}, "U1", priority="urgent"))
    with pytest.raises(InvalidInput, match="budget must be above 0"):
        start_workflow(StartRequest("bug-fix", {"description": "NPE"}, "U1", budget_usd=0))
    with pytest.raises(InvalidInput, match="requested it"):
        start_workflow(StartRequest("bug-fix", {"description": "NPE"}, " "))
    assert _counts() == before
    assert _executions(local_stack) == []


def test_unknown_workflow_id_is_not_found(local_stack: LocalStack) -> None:
    before = _counts()
    for workflow_id in ("not-a-uuid", "00000000-0000-4000-8000-000000000000"):
        with pytest.raises(NotFound, match=f"no workflow '{workflow_id}'"):
            get_workflow_status(workflow_id)
        with pytest.raises(NotFound, match=f"no workflow '{workflow_id}'"):
            cancel_workflow(workflow_id, "U1")
    assert _counts() == before


def test_a_client_key_starts_one_workflow(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    first = start_workflow(
        StartRequest("code-review", {"target": "X"}, "U1", client_key="slack:T1:abc")
    )
    again = start_workflow(
        StartRequest("code-review", {"target": "X"}, "U1", client_key="slack:T1:abc")
    )
    assert first.created
    assert not again.created
    assert (again.id, again.execution_arn) == (first.id, first.execution_arn)
    assert len(_executions(local_stack)) == 1
    assert len([e for e in audit.recent(50) if e["action"] == "workflow.started"]) == 1


def test_start_records_the_row_and_an_audit_event(local_stack: LocalStack) -> None:
    started = start_workflow(
        StartRequest(
            "bug-fix",
            {"description": "NPE on insert"},
            "U1",
            slack_channel="C1",
            slack_thread_ts="1700000000.000100",
            budget_usd=3.5,
        )
    )
    status = get_workflow_status(started.id)
    assert status.status == "running"
    assert status.requested_by == "U1"
    assert status.budget_usd == 3.5
    assert (status.slack_channel, status.slack_thread_ts) == ("C1", "1700000000.000100")
    assert status.input == {"description": "NPE on insert"}
    [event] = [e for e in audit.recent(10, target=started.id) if e["action"] == "workflow.started"]
    assert event["actor"] == "U1"
    assert event["detail"]["template"] == "bug-fix"


def test_cancel_stops_the_execution_and_its_tasks(local_stack: LocalStack) -> None:
    started = start_workflow(StartRequest("bug-fix", {"description": "NPE on insert"}, "U1"))
    wait_for(
        lambda: get_workflow_status(started.id).current_step == "Reproduce the bug",
        what="the first step to be queued",
    )
    cancelled = cancel_workflow(started.id, "U2")
    assert cancelled.status == "cancelled"
    assert cancelled.cause == "cancelled by U2"
    described = wait_for(
        lambda: (
            (d := sfn.sfn().describe_execution(executionArn=started.execution_arn))["status"]
            == "ABORTED"
            and d
        ),
        timeout=5,
        what="the execution to be aborted",
    )
    assert described["error"] == "WorkflowCancelled"
    assert described["cause"] == "cancelled by U2"
    with connection() as conn:
        statuses = [
            r["status"]
            for r in conn.execute(
                "SELECT status FROM autonomous_tasks WHERE workflow_id = %s", (started.id,)
            )
        ]
    assert statuses == ["cancelled"]
    assert next(e["actor"] for e in audit.recent(10, target=started.id)) == "U2"
    with pytest.raises(AutodevError, match="has already finished"):
        cancel_workflow(started.id, "U2")
    after = get_workflow_status(started.id)
    assert after.status == "cancelled"
    assert after.steps[-1].status == "stopped"


def test_an_execution_stopped_elsewhere_is_reported_once_seen(local_stack: LocalStack) -> None:
    from autodev import callbacks, progress

    started = start_workflow(StartRequest("bug-fix", {"description": "NPE on insert"}, "U1"))
    wait_for(
        lambda: get_workflow_status(started.id).current_step == "Reproduce the bug",
        what="the first step to be queued",
    )
    # Stopped in the console: workflow_finished never runs; the next status read sees it.
    sfn.sfn().stop_execution(executionArn=started.execution_arn, error="Stopped", cause="console")
    status = wait_for(
        lambda: (s := get_workflow_status(started.id)).finished and s, what="the stop to be seen"
    )
    assert status.status == "cancelled"
    result = callbacks.get_result(started.id)
    assert isinstance(result, callbacks.CachedResult)
    assert result.status == "cancelled"
    assert result.result["cause"] == "console"
    tracked = progress.get_progress(started.id)
    assert tracked is not None
    assert tracked.status == "cancelled"
    get_workflow_status(started.id)  # seen again: nothing is delivered twice
    assert [d.channel for d in callbacks.delivery_status(started.id)] == ["event"]
