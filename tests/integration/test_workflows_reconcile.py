"""Nothing stranded: workflows whose execution is gone (the local engine restarted) or ended
unseen are finished with a clear cause, their tasks cancelled, their outcomes not "delivered"."""

from __future__ import annotations

from typing import Any

from autodev import callbacks
from autodev.db import connection
from autodev.local import reconcile as local_reconcile
from autodev.local.lambdas import LambdaContext, load_module
from autodev.local.stack import LocalStack
from autodev.local.testing import wait_for
from autodev.orchestrator import outcomes, queue
from autodev.workflows import StartRequest, get_workflow_status, sfn, start_workflow
from autodev.workflows.reconcile import LOST_ERROR, reconcile_workflows
from tests.conftest import ROOT


def _tasks(workflow_id: str) -> list[dict[str, Any]]:
    with connection() as conn:
        rows = conn.execute(
            "SELECT id::text, status, outcome_sent_at, outcome_refused FROM autonomous_tasks "
            "WHERE workflow_id = %s ORDER BY created_at",
            (workflow_id,),
        ).fetchall()
    return [dict(row) for row in rows]


def _queued(workflow_id: str) -> bool:
    return any(task["status"] == "queued" for task in _tasks(workflow_id))


def test_a_restarted_local_engine_finishes_what_the_old_one_ran(database: str) -> None:
    with LocalStack(poke_scaler=False):
        waiting = start_workflow(StartRequest("bug-fix", {"description": "NPE"}, "U1"))
        working = start_workflow(StartRequest("code-review", {"target": "A"}, "U2"))
        wait_for(lambda: _queued(waiting.id) and _queued(working.id), what="the first steps")
        # A worker holds one of them when the engine goes away (`autodev local down`).
        claimed = queue.claim_next("worker-1", 600)
        assert claimed is not None
    # The new engine knows none of the old executions; its first reconcile pass says so.
    with LocalStack(poke_scaler=False, services=[local_reconcile.SERVICE]) as stack:
        for workflow in (waiting, working):
            status = get_workflow_status(workflow.id)
            assert status.status == "failed", status
            assert status.error == LOST_ERROR
            assert "execution no longer exists" in str(status.cause)
            assert {t["status"] for t in _tasks(workflow.id)} == {"cancelled"}
            # `workflow result` has the outcome (it said "no result ... (yet)" before).
            result = callbacks.get_result(workflow.id)
            assert isinstance(result, callbacks.CachedResult)
            assert result.status == "failed"
        assert any("2 workflow(s) left running" in note for note in stack.notes)
        # The worker that held a task finds its lease gone: it records nothing.
        assert not queue.renew_lease(claimed.id, "worker-1", 600)

        # Their tasks' outcomes go to tokens nobody waits for: recorded as refused.
        tasks = _tasks(waiting.id) + _tasks(working.id)  # code-review's reviews run in parallel
        sent = outcomes.deliver_pending(older_than_seconds=0)
        assert sent == {"sent": 0, "gone": len(tasks), "failed": 0}
        for task in _tasks(waiting.id) + _tasks(working.id):
            assert task["outcome_sent_at"] is not None
            assert task["outcome_refused"] in {"InvalidToken", "TaskDoesNotExist"}
            assert queue.get_task_status(task["id"]).outcome_refused == task["outcome_refused"]


def test_the_scheduled_rescuer_finishes_an_execution_that_ended_unseen(
    local_stack: LocalStack,
) -> None:
    started = start_workflow(StartRequest("bug-fix", {"description": "NPE"}, "U1"))
    wait_for(lambda: _queued(started.id), what="the first step")
    # Stopped in the console: its last state never runs, and nobody reads its status.
    sfn.sfn().stop_execution(executionArn=started.execution_arn, error="Stopped", cause="by hand")
    wait_for(
        lambda: (
            sfn.sfn().describe_execution(executionArn=started.execution_arn)["status"] == "ABORTED"
        ),
        what="the execution to stop",
    )
    # Younger than the grace period: a start may still be on its way to StartExecution.
    assert reconcile_workflows().checked == 0
    with connection() as conn:
        conn.execute(
            "UPDATE workflows SET created_at = now() - interval '10 minutes' WHERE id = %s",
            (started.id,),
        )
    rescuer = load_module(ROOT / "functions" / "rescuer" / "handler.py")
    context = LambdaContext("rescuer", "arn:aws:lambda:us-east-1:123456789012:function:rescuer")
    report = rescuer.handler({"correlation_id": "tick-1"}, context)
    assert report["reconciled"]["ended"] == [started.id]
    # Reconciled before the scaler looked: no worker was started for the cancelled task.
    assert report["scale"]["launched"] == 0
    with connection() as conn:
        row = conn.execute(
            "SELECT status, error, cause FROM workflows WHERE id = %s", (started.id,)
        ).fetchone()
    assert row == {"status": "cancelled", "error": "Stopped", "cause": "by hand"}
    assert [t["status"] for t in _tasks(started.id)] == ["cancelled"]
    # Its outcome went out at once (kicked in the background, as in AWS), not at the next
    # delivery sweep.
    wait_for(
        lambda: (
            [(d.channel, d.status) for d in callbacks.delivery_status(started.id)]
            == [("event", "delivered")]
        ),
        what="the outcome's delivery",
    )
    again = rescuer.handler({"correlation_id": "tick-2"}, context)
    assert again["reconciled"]["ended"] == []  # finished once
