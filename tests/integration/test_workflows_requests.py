"""Starting, idempotency, cancelling, and requests that must change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from autodev import audit
from autodev.config import get_settings
from autodev.db import connection
from autodev.errors import AutodevError, InvalidInput, NotFound
from autodev.local.slack.sink import SlackSink
from autodev.local.stack import LocalStack
from autodev.local.testing import WorkerDouble, wait_for
from autodev.workflows import (
    NotAllowed,
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
    for budget in (0, -1, float("inf"), float("nan")):
        with pytest.raises(InvalidInput, match="budget must be a number of US dollars above 0"):
            start_workflow(StartRequest("bug-fix", {"description": "NPE"}, "U1", budget_usd=budget))
    # 1e308 would overflow the numeric column: above WORKFLOW_MAX_BUDGET_USD, refused first.
    with pytest.raises(InvalidInput, match=r"above the most a workflow may have, \$100\.00"):
        start_workflow(StartRequest("bug-fix", {"description": "NPE"}, "U1", budget_usd=1e308))
    with pytest.raises(InvalidInput, match="requested it"):
        start_workflow(StartRequest("bug-fix", {"description": "NPE"}, " "))
    # Text Postgres cannot store is refused before anything is written, saying where it is.
    with pytest.raises(InvalidInput, match=r"the input\.description contains a NUL character"):
        start_workflow(StartRequest("bug-fix", {"description": "N\x00PE"}, "U1"))
    with pytest.raises(InvalidInput, match=r"the input\.component contains an unpaired surrog"):
        start_workflow(
            StartRequest("bug-fix", {"description": "NPE", "component": "A\udcff"}, "U1")
        )
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


THREAD = "1700000000.000100"


def _in_a_thread(**more: Any) -> StartRequest:
    """A bug-fix asked for in a Slack thread."""
    return StartRequest(
        "bug-fix",
        {"description": "NPE on insert"},
        "U1",
        slack_channel="C1",
        slack_thread_ts=THREAD,
        **more,
    )


def test_start_records_the_row_and_an_audit_event(local_stack: LocalStack) -> None:
    started = start_workflow(_in_a_thread(budget_usd=3.5))
    status = get_workflow_status(started.id)
    assert status.status == "running"
    assert status.requested_by == "U1"
    assert status.budget_usd == 3.5
    assert (status.slack_channel, status.slack_thread_ts) == ("C1", THREAD)
    assert status.input == {"description": "NPE on insert"}
    [event] = [e for e in audit.recent(10, target=started.id) if e["action"] == "workflow.started"]
    assert event["actor"] == "U1"
    assert event["detail"]["template"] == "bug-fix"


def test_a_starts_status_message_goes_to_slack_once_its_execution_has_started(
    local_stack: LocalStack, slack_sink: SlackSink
) -> None:
    # Slack's answer (a tenth of a second or more from AWS) is not in the first step's way.
    started = start_workflow(_in_a_thread())
    [posted] = [call for call in slack_sink.calls() if call.method == "chat.postMessage"]
    assert posted.args["thread_ts"] == THREAD
    assert posted.text.startswith(f"bug-fix {started.id}")
    arn = get_workflow_status(started.id).execution_arn
    described = sfn.sfn().describe_execution(executionArn=arn)
    assert posted.at >= described["startDate"].timestamp()


def test_cancel_stops_the_execution_and_its_tasks(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADMINS", "U2")
    monkeypatch.setenv("APPROVERS", "UAPPROVER")
    get_settings.cache_clear()
    started = start_workflow(StartRequest("bug-fix", {"description": "NPE on insert"}, "U1"))
    wait_for(
        lambda: get_workflow_status(started.id).current_step == "Reproduce the bug",
        what="the first step to be queued",
    )
    # Neither its requester, an approver nor an admin: refused, audited, nothing changed.
    with pytest.raises(NotAllowed, match=r"U3 may not cancel workflow .*who requested it"):
        cancel_workflow(started.id, "U3")
    refused = audit.recent(1, target=started.id)[0]
    assert (refused["actor"], refused["action"]) == ("U3", "workflow.cancel_refused")
    assert refused["detail"] == {"requested_by": "U1"}
    assert get_workflow_status(started.id).status == "running"
    with connection() as conn:
        assert conn.execute(
            "SELECT status FROM autonomous_tasks WHERE workflow_id = %s", (started.id,)
        ).fetchone() == {"status": "queued"}
    cancelled = cancel_workflow(started.id, "U2")  # an admin
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


def test_a_start_asks_the_scaler_for_its_first_steps_worker(
    scaler_asks: Callable[[], list[dict[str, Any]]],
) -> None:
    started = start_workflow(StartRequest("bug-fix", {"description": "NPE"}, "U1"))

    def asked() -> list[dict[str, Any]] | None:
        found = scaler_asks()
        return found if any(e.get("reason") == "task queued" for e in found) else None

    seen = wait_for(asked, timeout=30, what="the scaler to be asked")
    # Once when the workflow starts, for the step it is about to queue; again when it is
    # queued (which finds that worker free, so starts no second one).
    ahead = [e for e in seen if e.get("reason") == "workflow starting"]
    assert [(e["workflow_id"], e["expected"]) for e in ahead] == [(started.id, 1)]


def test_a_failed_execution_start_leaves_nothing_behind(
    local_stack: LocalStack, slack_sink: SlackSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _counts()
    # The row is committed (and the scaler asked ahead) before StartExecution, which fails.
    monkeypatch.setenv(
        "AUTODEV_STATE_MACHINE_ARN_PREFIX",
        "arn:aws:states:us-east-1:123456789012:stateMachine:nothing-here-",
    )
    get_settings.cache_clear()
    with pytest.raises(AutodevError, match="start bug-fix"):
        start_workflow(_in_a_thread())
    get_settings.cache_clear()
    assert _counts() == before
    assert _executions(local_stack) == []
    assert slack_sink.calls() == []  # no status message for a workflow that never started
