"""The deployment template's approval: approve, reject, time out; who may answer; first wins."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from autodev import audit, progress
from autodev.aws import client
from autodev.config import get_settings
from autodev.db import connection
from autodev.errors import NotFound
from autodev.local.slack.sink import SlackSink
from autodev.local.stack import LocalStack
from autodev.local.testing import WorkerDouble, wait_for, wait_until_finished
from autodev.workflows import (
    AlreadyDecided,
    Approval,
    NotAllowed,
    StartRequest,
    StepFunctionsError,
    WorkflowStatus,
    get_approval,
    get_workflow_status,
    pending_approvals,
    register_group_resolver,
    respond_to_approval,
    start_workflow,
)

APPROVER = "UAPPROVER1"
OTHER_APPROVER = "UAPPROVER2"


@pytest.fixture(autouse=True)
def _approvers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("APPROVERS", f"{APPROVER}, {OTHER_APPROVER}")
    monkeypatch.delenv("APPROVER_GROUP", raising=False)
    get_settings.cache_clear()
    yield
    register_group_resolver(None)
    get_settings.cache_clear()


def finished(workflow_id: str) -> WorkflowStatus:
    return wait_until_finished(workflow_id)


def waiting_deployment(worker_double: WorkerDouble) -> tuple[str, Approval]:
    worker_double.start()
    started = start_workflow(StartRequest("deployment", {"target_org": "staging"}, "UREQUESTER"))
    approvals = wait_for(lambda: pending_approvals(started.id), what="an approval request")
    assert len(approvals) == 1
    return started.id, approvals[0]


def _audit(workflow_id: str, action: str) -> list[dict[str, Any]]:
    return [e for e in audit.recent(100, target=workflow_id) if e["action"] == action]


def _token_of(approval_id: str) -> str:
    with connection() as conn:
        row = conn.execute("SELECT task_token FROM approvals WHERE id = %s", (approval_id,))
        found = row.fetchone()
    assert found is not None
    return str(found["task_token"])


def test_approved_deployment_deploys_and_smoke_tests(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    workflow_id, approval = waiting_deployment(worker_double)
    assert get_workflow_status(workflow_id).status == "waiting_approval"
    assert get_workflow_status(workflow_id).current_step == "Request approval"
    assert approval.message == "Deploy force-app to staging (tests: RunLocalTests)?"
    # What the approver decides from: a typed summary, never the step's raw answer.
    assert approval.summary is not None
    assert (approval.summary.target_org, approval.summary.test_level) == (
        "staging",
        "RunLocalTests",
    )
    assert approval.summary.requested_by == "UREQUESTER"
    assert approval.summary.validation is not None
    assert approval.summary.validation.passed is True
    assert approval.summary.validation.outcome == "Validate deployment: deploy_validate passed"
    # The id people see is opaque; the token stays in the database.
    assert approval.id not in _token_of(approval.id)
    assert "task_token" not in vars(approval)

    decided = respond_to_approval(approval.id, APPROVER, True, "ship it")
    assert decided.status == "approved"
    assert decided.decided_by == APPROVER
    status = finished(workflow_id)
    assert status.status == "succeeded", (status.error, status.cause)
    assert worker_double.steps_answered() == [
        "Validate deployment",
        "Deploy to org",
        "Run smoke tests",
    ]
    assert status.output["steps"]["approve"]["approver"] == APPROVER
    assert status.output["steps"]["approve"]["comment"] == "ship it"
    [event] = _audit(workflow_id, "approval.approved")
    assert event["actor"] == APPROVER
    assert event["detail"]["comment"] == "ship it"
    # Its progress was tracked from the start, the agent steps as stages, and is finished.
    tracked = progress.get_progress(workflow_id)
    assert tracked is not None
    assert tracked.kind == "workflow"
    assert [s.name for s in tracked.stages] == [
        "Validate deployment",
        "Deploy to org",
        "Run smoke tests",
    ]
    assert (tracked.status, tracked.percent) == ("completed", 100.0)


def test_rejected_deployment_reports_who_rejected_and_why(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    workflow_id, approval = waiting_deployment(worker_double)
    respond_to_approval(approval.id, APPROVER, False, "not during the release freeze")
    status = finished(workflow_id)
    assert status.status == "failed"
    assert status.error == "ApprovalRejected"
    assert status.cause == f"Rejected by {APPROVER}: not during the release freeze"
    assert worker_double.steps_answered() == ["Validate deployment"]
    assert [s.name for s in status.steps][-2:] == ["Record rejection", "Deployment rejected"]
    assert _audit(workflow_id, "approval.rejected")


def test_an_answer_holds_its_workflow_before_step_functions_hears_it(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    # A rejection can end the execution at once, and its last Lambda locks the workflow, then
    # its approvals. The answer locks its approval, then the workflow: taken after Step
    # Functions was told, the two deadlocked (a rejected deployment in CI). Both are held
    # before it is told.
    workflow_id, approval = waiting_deployment(worker_double)
    seen: list[str] = []

    def look(model: Any, **_: Any) -> None:
        if model.name != "SendTaskFailure":
            return
        # A connection of its own, outside the pool: the pool reports a refused lock as the
        # database being unavailable.
        with psycopg.connect(os.environ["DATABASE_URL"]) as other:
            try:
                other.execute(
                    "SELECT id FROM workflows WHERE id = %s FOR UPDATE NOWAIT", (workflow_id,)
                )
                seen.append("free")
            except psycopg.errors.LockNotAvailable:
                seen.append("held")

    events = client("stepfunctions").meta.events
    events.register("before-call", look)
    try:
        respond_to_approval(approval.id, APPROVER, False, "held first")
    finally:
        events.unregister("before-call", look)
    assert seen == ["held"]
    assert finished(workflow_id).status == "failed"


def test_unanswered_approval_times_out(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    local_stack.redefine("deployment", ApprovalTimeoutSeconds=1)
    workflow_id, approval = waiting_deployment(worker_double)
    status = finished(workflow_id)
    assert status.status == "timed_out"
    assert status.error == "ApprovalTimedOut"
    assert status.steps[-1].name == "Approval timed out"
    assert get_approval(approval.id).status == "expired"
    with pytest.raises(AlreadyDecided, match="is expired: the workflow no longer waits"):
        respond_to_approval(approval.id, APPROVER, True)
    assert worker_double.steps_answered() == ["Validate deployment"]


def test_a_second_answer_is_told_who_decided_and_changes_nothing(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    workflow_id, approval = waiting_deployment(worker_double)
    first = respond_to_approval(approval.id, APPROVER, True)
    assert isinstance(first.decided_at, datetime)
    when = first.decided_at.strftime("%Y-%m-%d %H:%M:%S")
    with pytest.raises(AlreadyDecided, match=f"already approved by {APPROVER} at {when} UTC"):
        respond_to_approval(approval.id, OTHER_APPROVER, False, "no!")
    assert finished(workflow_id).status == "succeeded"
    assert get_approval(approval.id).decided_by == APPROVER
    assert len(_audit(workflow_id, "approval.approved")) == 1
    assert not _audit(workflow_id, "approval.rejected")


def test_someone_not_allowed_cannot_answer_and_changes_nothing(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    workflow_id, approval = waiting_deployment(worker_double)
    before = audit.recent(100, target=workflow_id)
    with pytest.raises(NotAllowed, match="UINTRUDER may not answer approvals"):
        respond_to_approval(approval.id, "UINTRUDER", True)
    assert get_approval(approval.id).status == "pending"
    assert get_workflow_status(workflow_id).status == "waiting_approval"
    assert audit.recent(100, target=workflow_id) == before
    # The request still stands for a real approver.
    respond_to_approval(approval.id, APPROVER, True)
    assert finished(workflow_id).status == "succeeded"


def test_members_of_the_approver_group_may_answer(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APPROVERS", "")
    monkeypatch.setenv("APPROVER_GROUP", "S0RELEASE")
    get_settings.cache_clear()
    members = {("UMEMBER", "S0RELEASE")}
    register_group_resolver(lambda user, group: (user, group) in members)
    workflow_id, approval = waiting_deployment(worker_double)
    with pytest.raises(NotAllowed):
        respond_to_approval(approval.id, APPROVER, True)
    respond_to_approval(approval.id, "UMEMBER", True)
    assert finished(workflow_id).status == "succeeded"


def test_unknown_approval_is_not_found(local_stack: LocalStack) -> None:
    with pytest.raises(NotFound, match="no approval 'apr-does-not-exist'"):
        respond_to_approval("apr-does-not-exist", APPROVER, True)
    with pytest.raises(NotFound):
        respond_to_approval("", APPROVER, True)


def test_an_answer_the_workflow_no_longer_waits_for_is_a_clear_message(
    local_stack: LocalStack,
) -> None:
    from autodev.workflows.approvals import request_approval

    started = start_workflow(StartRequest("deployment", {"target_org": "staging"}, "UREQUESTER"))
    # A request whose task token Step Functions no longer knows (its execution moved on).
    stale = request_approval(started.id, "token-of-a-finished-step", "Request approval", "Go?", 60)
    with pytest.raises(
        StepFunctionsError,
        match="could not record the approval: the step is no longer waiting",
    ):
        respond_to_approval(stale.id, APPROVER, True)
    assert get_approval(stale.id).status == "expired"
    assert not _audit(started.id, "approval.approved")


def test_approval_requested_is_published_without_the_token(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    sqs = client("sqs")
    queue_url = sqs.create_queue(QueueName="approvals-seen")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    bus = client("events")
    bus.put_rule(
        Name="approvals-seen",
        EventBusName="autodev",
        EventPattern=json.dumps({"source": ["autodev"], "detail-type": ["approval:requested"]}),
    )
    bus.put_targets(
        Rule="approvals-seen",
        EventBusName="autodev",
        Targets=[{"Id": "queue", "Arn": queue_arn["Attributes"]["QueueArn"]}],
    )
    workflow_id, approval = waiting_deployment(worker_double)
    received = wait_for(
        lambda: sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages"),
        what="the approval:requested event",
    )
    event = json.loads(received[0]["Body"])
    detail = event["detail"]
    assert detail["approval_id"] == approval.id
    assert detail["workflow_id"] == workflow_id
    assert detail["requested_by"] == "UREQUESTER"
    assert detail["approvers"] == [APPROVER, OTHER_APPROVER]
    assert _token_of(approval.id) not in received[0]["Body"]


@pytest.mark.parametrize("ending", ["timeout", "cancel"])
def test_the_card_closes_when_nobody_answers_or_the_workflow_is_cancelled(
    ending: str,
    local_stack: LocalStack,
    worker_double: WorkerDouble,
    slack_sink: SlackSink,
) -> None:
    from autodev.slack.notify import post_approval_request
    from autodev.workflows import cancel_workflow

    if ending == "timeout":
        local_stack.redefine("deployment", ApprovalTimeoutSeconds=2)
    workflow_id, approval = waiting_deployment(worker_double)
    ts = post_approval_request(approval.id, workflow_id, approval.message)
    [posted] = [m for m in slack_sink.messages("#dev-alerts") if m["ts"] == ts]
    assert "actions" in [block["type"] for block in posted["blocks"]]
    assert (get_approval(approval.id).slack_channel, get_approval(approval.id).slack_ts) == (
        "#dev-alerts",
        ts,
    )
    if ending == "cancel":
        cancel_workflow(workflow_id, "UREQUESTER")
    finished(workflow_id)

    def closed() -> dict[str, Any] | None:
        card = next(m for m in slack_sink.messages("#dev-alerts") if m["ts"] == ts)
        return None if "actions" in [b["type"] for b in card["blocks"]] else card

    card: dict[str, Any] = wait_for(closed, what="the card to lose its buttons")
    shown = json.dumps(card["blocks"])
    decided = get_approval(approval.id)
    assert decided.decided_at is not None
    when = decided.decided_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if ending == "timeout":
        assert decided.status == "expired"
        assert f"*Expired* at {when}: nobody answered in time" in shown
    else:
        assert (decided.status, decided.decided_by) == ("cancelled", "UREQUESTER")
        assert f"*Cancelled* by <@UREQUESTER> at {when}" in shown


def test_a_retried_approval_request_is_one_approval_waiting_on_the_newest_token(
    local_stack: LocalStack,
    worker_double: WorkerDouble,
) -> None:
    from autodev.local import lambdas
    from autodev.workflows.approvals import request_approval

    # The first request is stored, then its response is lost: Step Functions retries the
    # state (moto's interpreter with the same token; AWS with a new one: both below).
    calls: list[Any] = []

    def first(event: Any) -> bool:
        calls.append(event)
        return len(calls) == 1

    with lambdas.responses_lost("request_approval", first) as lost:
        worker_double.start()
        started = start_workflow(
            StartRequest("deployment", {"target_org": "staging"}, "UREQUESTER")
        )
        wait_for(lambda: len(calls) >= 2, timeout=60, what="the request and its retry")
    assert len(lost) == 1
    [approval] = wait_for(lambda: pending_approvals(started.id), what="the approval")
    assert len(_audit(started.id, "approval.requested")) == 1

    # A retry with a token of its own takes over the pending request of the same step: still
    # one approval (the same id, the card's), waiting on the newest token, announced once.
    again = request_approval(started.id, "token-of-the-retry", "Request approval", "Go?", 60)
    assert again.id == approval.id
    assert _token_of(approval.id) == "token-of-the-retry"
    assert [a.id for a in pending_approvals(started.id)] == [approval.id]
    assert len(_audit(started.id, "approval.requested")) == 1
