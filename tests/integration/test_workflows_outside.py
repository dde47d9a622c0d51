"""Executions started outside Slack and the CLI (the console, EventBridge, another service's
StartExecution with just the template's input) are workflows too: registered on first sight."""

from __future__ import annotations

import json

from autodev import audit
from autodev.db import connection
from autodev.local.stack import LocalStack
from autodev.local.testing import WorkerDouble, wait_for, wait_until_finished
from autodev.workflows import (
    StartRequest,
    get_template,
    get_workflow_status,
    resolve_workflow_id,
    sfn,
    start_workflow,
)


def _start_directly(stack: LocalStack, template: str, name: str, given: object) -> str:
    """StartExecution as the console or an EventBridge target does: no workflow row first."""
    started = sfn.sfn().start_execution(
        stateMachineArn=stack.state_machine_arns[template], name=name, input=json.dumps(given)
    )
    return str(started["executionArn"])


def _row(execution_name: str) -> dict[str, object]:
    with connection() as conn:
        row = conn.execute(
            "SELECT * FROM workflows WHERE execution_name = %s", (execution_name,)
        ).fetchone()
    assert row is not None
    return dict(row)


def _registered(execution_name: str) -> str:
    def found() -> str | None:
        with connection() as conn:
            row = conn.execute(
                "SELECT id::text FROM workflows WHERE execution_name = %s", (execution_name,)
            ).fetchone()
        return None if row is None else str(row["id"])

    workflow_id: str = wait_for(found, what=f"{execution_name} to be registered")
    return workflow_id


def test_an_execution_started_elsewhere_runs_as_a_workflow(
    local_stack: LocalStack, worker_double: WorkerDouble
) -> None:
    arn = _start_directly(
        local_stack, "code-review", "nightly-review-1", {"target": "AccountTrigger"}
    )
    worker_double.start()
    workflow_id = _registered("nightly-review-1")
    status = wait_until_finished(workflow_id)
    assert status.status == "succeeded", (status.error, status.cause)
    assert status.execution_arn == arn
    assert (status.requested_by, status.started_by) == ("stepfunctions", "stepfunctions")
    assert status.input == {"target": "AccountTrigger"}
    assert status.budget_usd == get_template("code-review").default_budget_usd
    row = _row("nightly-review-1")
    assert row["started_by"] == "stepfunctions"
    assert resolve_workflow_id("nightly-review-1") == workflow_id
    # Every agent step ran as a task of the registered workflow.
    assert len(worker_double.completions) == len(
        [s for s in get_template("code-review").steps if s.kind != "approval"]
    )
    assert {c.task.workflow_id for c in worker_double.completions} == {workflow_id}
    [event] = [e for e in audit.recent(20, target=workflow_id) if e["action"] == "workflow.started"]
    assert event["actor"] == "stepfunctions"
    assert event["detail"]["execution_arn"] == arn


def test_a_rerun_of_an_earlier_input_is_a_new_workflow_and_ours_are_not_registered_twice(
    local_stack: LocalStack, worker_double: WorkerDouble
) -> None:
    worker_double.start()
    ours = start_workflow(
        StartRequest("code-review", {"target": "A"}, "U1", priority="low", started_by="cli")
    )
    assert wait_until_finished(ours.id).status == "succeeded"
    with connection() as conn:
        counted = conn.execute("SELECT count(*) AS n FROM workflows").fetchone()
    assert counted == {"n": 1}  # the first state found the row start_workflow wrote
    assert _row(ours.execution_name)["started_by"] == "cli"
    described = sfn.sfn().describe_execution(executionArn=ours.execution_arn)
    # The console's "New execution" with the same input: start_workflow's envelope, whose
    # workflow id has its own execution already. A new workflow, with the envelope's input.
    _start_directly(local_stack, "code-review", "rerun-1", json.loads(described["input"]))
    rerun_id = _registered("rerun-1")
    assert rerun_id != ours.id
    rerun = wait_until_finished(rerun_id)
    assert rerun.status == "succeeded"
    assert rerun.input == {"target": "A"}
    low = [c.task.priority for c in worker_double.completions if c.task.workflow_id == rerun_id]
    assert set(low) == {"low"}


def test_input_the_template_refuses_is_a_failed_workflow_with_the_reason(
    local_stack: LocalStack, worker_double: WorkerDouble
) -> None:
    arn = _start_directly(local_stack, "deployment", "bad-deploy-1", {"target_org": "a b; c"})
    workflow_id = _registered("bad-deploy-1")
    status = wait_for(
        lambda: (s := get_workflow_status(workflow_id)).finished and s, what="the refusal"
    )
    assert status.status == "failed"
    assert status.error == "InvalidInput"
    assert "input for deployment is not valid at target_org" in str(status.cause)
    described = wait_for(
        lambda: (d := sfn.sfn().describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
        what="the execution to fail",
    )
    assert described["status"] == "FAILED"
    assert described["error"] == "InvalidInput"
    with connection() as conn:
        tasks = conn.execute(
            "SELECT count(*) AS n FROM autonomous_tasks WHERE workflow_id = %s", (workflow_id,)
        ).fetchone()
    assert tasks == {"n": 0}
    assert worker_double.completions == []
