"""Every finished task's result: cached for polling by task id, delivered to the task's own
callbacks, and published as the spec's ``task:completed`` / ``task:failed`` event; a workflow
step's outcome is also noted in its workflow's Slack conversation (``autodev.conversations``).

The worker publishes a task's result as soon as it has recorded the outcome; the rescuer's
pass sweeps up the rest (tasks that died, were cancelled, or whose worker stopped before
publishing). Each task is published once: the claim and the mark are one transaction with the
result and its deliveries (``autodev.callbacks.deliver_result``, an outbox).

The cached document (``GET /results/{task id}``, ``autodev workflow result TASK_ID``)::

    {"task_id", "workflow_id", "step_name", "task_type",
     "status": "succeeded" | "failed" | "cancelled",
     "task_status": the queue's own (succeeded, failed, dead, cancelled),
     "attempts", "cost_usd", "finished_at",
     "output": the task's result (succeeded) | "error", "error_code" (otherwise)}
"""

from __future__ import annotations

from typing import Any

from autodev import callbacks
from autodev.db import connection
from autodev.observability import best_effort, child_logger
from autodev.orchestrator import queue
from autodev.orchestrator.queue import FinishedTask

log = child_logger(__name__)

# The queue's final statuses as a result's status (a dead task failed on every attempt).
_RESULT_STATUS = {
    "succeeded": "succeeded",
    "failed": "failed",
    "dead": "failed",
    "cancelled": "cancelled",
}


def result_document(task: FinishedTask) -> dict[str, Any]:
    """What is cached and delivered for a finished task."""
    document: dict[str, Any] = {
        "task_id": task.id,
        "workflow_id": task.workflow_id,
        "step_name": task.step_name,
        "task_type": task.task_type,
        "status": _RESULT_STATUS[task.status],
        "task_status": task.status,
        "attempts": task.attempts,
        "cost_usd": round(task.cost_usd, 6),
        "finished_at": task.finished_at.isoformat() if task.finished_at else None,
    }
    if task.status == "succeeded":
        document["output"] = task.result or {}
    else:
        document["error"] = task.last_error or f"the task ended {task.status}"
        document["error_code"] = task.error_code
    return document


def publish_results(
    *, task_id: str | None = None, older_than_seconds: float = 0.0, limit: int = 50
) -> list[str]:
    """Publish the results of finished tasks not yet published (or just ``task_id``); returns
    the ids published. Their deliveries are then kicked (sent now rather than at the sweep)."""
    published: list[FinishedTask] = []
    with connection() as conn:
        for task in queue.claim_unpublished(
            conn, task_id=task_id, older_than_seconds=older_than_seconds, limit=limit
        ):
            callbacks.deliver_result(
                task.id,
                result_document(task),
                target_kind="task",
                conn=conn,
                finish_progress=False,
            )
            queue.mark_published(conn, task.id)
            published.append(task)
    for task in published:
        # After the commit: the progress tracker takes a connection of its own.
        callbacks.finish_progress(task.id, _RESULT_STATUS[task.status])
        if task.workflow_id:
            _to_conversation(task)
    if published:
        callbacks.kick_delivery()
    return [task.id for task in published]


def _to_conversation(task: FinishedTask) -> None:
    """The step's outcome in its workflow's Slack conversation (autodev.conversations), if it
    has one; advisory like the rest of publishing."""
    from autodev.conversations.runs import record_step

    assert task.workflow_id is not None
    document = result_document(task)
    output = document.get("output") or {}
    text = str(output.get("summary") or "") if isinstance(output, dict) else ""
    with best_effort("task_conversation", log, task_id=task.id):
        record_step(
            task.workflow_id, task.step_name, document["status"], text or document.get("error", "")
        )


def publish_task(task_id: str) -> None:
    """The worker's call once a task's outcome is recorded: best effort, since the rescuer's
    sweep publishes whatever this misses."""
    with best_effort("task_result", log, task_id=task_id):
        publish_results(task_id=task_id, limit=1)
