"""The four templates run to completion on moto's interpreter, with a worker double."""

from __future__ import annotations

from autodev.local.stack import LocalStack
from autodev.local.testing import WorkerDouble, local_stack, wait_for, worker_double  # noqa: F401
from autodev.workflows import get_workflow_status, start_workflow


def _finished(workflow_id: str) -> object:
    status = get_workflow_status(workflow_id)
    return status if status.finished else None


def test_bug_fix_runs_to_completion(local_stack: LocalStack, worker_double: WorkerDouble) -> None:  # noqa: F811
    worker_double.start()
    started = start_workflow("bug-fix", {"description": "NPE on bulk insert"}, "U1")
    status = wait_for(lambda: _finished(started.id), what="bug-fix to finish")
    assert status.status == "succeeded", status
    assert worker_double.steps_answered() == [
        "Reproduce the bug",
        "Find the root cause",
        "Implement the fix",
        "Verify the fix",
    ]
    print([(s.name, s.status) for s in status.steps])
