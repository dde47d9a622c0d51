"""Steps waiting in the queue are kept alive with heartbeats, and dropped when abandoned.

On the local stack (moto's Step Functions interpreter) with no worker running, so the step
stays queued; the rescuer's heartbeat pass is what is under test.
"""

from __future__ import annotations

from typing import Any

from autodev.db import connection
from autodev.local.stack import LocalStack
from autodev.local.testing import local_stack, wait_for
from autodev.orchestrator import queue, rescuer
from autodev.workflows import StartRequest, sfn, start_workflow

__all__ = ["local_stack"]


def _task(workflow_id: str) -> dict[str, Any] | None:
    with connection() as conn:
        row = conn.execute(
            "SELECT id::text, status, queued_heartbeat_at FROM autonomous_tasks "
            "WHERE workflow_id = %s",
            (workflow_id,),
        ).fetchone()
    return dict(row) if row else None


def test_queued_steps_are_heartbeated_and_abandoned_ones_cancelled(
    local_stack: LocalStack,
) -> None:
    started = start_workflow(StartRequest("bug-fix", {"description": "NPE on bulk insert"}, "U1"))
    task = wait_for(lambda: _task(started.id), what="the first step to be queued")
    assert task["status"] == "queued"

    alive, abandoned = rescuer.heartbeat_queued(older_than_seconds=0)
    assert (alive, abandoned) == (1, [])
    stamped = _task(started.id)
    assert stamped is not None
    assert stamped["queued_heartbeat_at"] is not None
    # Stamped just now: a pass with the normal spacing leaves it alone.
    assert rescuer.heartbeat_queued(older_than_seconds=3600) == (0, [])

    # The execution ends without the step (stopped in the console, say): its token is gone.
    sfn.sfn().stop_execution(executionArn=started.execution_arn, error="Stopped", cause="test")
    wait_for(
        lambda: (
            sfn.sfn().describe_execution(executionArn=started.execution_arn)["status"] != "RUNNING"
        ),
        what="the execution to stop",
    )
    alive, abandoned = rescuer.heartbeat_queued(older_than_seconds=0)
    assert (alive, abandoned) == (0, [task["id"]])
    final = queue.get_task_status(task["id"])
    assert final.status == "cancelled"
    # Its outcome was never sent: the token was refused, and that is what is recorded.
    assert final.outcome_refused in {"InvalidToken", "TaskDoesNotExist", "TaskTimedOut"}
    assert queue.claim_next("w-test", 30) is None
