"""What a queued task was asked to do, read back by its id (never its task token).

The scripted model server (a local stand-in) plays a task's session from this: its step,
prompt, tools and context.
"""

from __future__ import annotations

from autodev.orchestrator.queue import TaskSpec
from autodev.orchestrator.queue.status import task_row


def task_spec(task_id: str) -> TaskSpec:
    """The task's submitted spec; NotFound when there is no such task."""
    row = task_row(
        task_id,
        """task_type, prompt, priority, context, allowed_tools, max_turns, budget_usd,
           timeout_ms, max_attempts, workflow_id, step_name""",
    )
    return TaskSpec(
        task_type=str(row["task_type"]),
        prompt=str(row["prompt"]),
        priority=str(row["priority"]),
        context=dict(row["context"] or {}),
        allowed_tools=tuple(row["allowed_tools"] or ()),
        max_turns=int(row["max_turns"]),
        budget_usd=float(row["budget_usd"]) if row["budget_usd"] is not None else None,
        timeout_ms=int(row["timeout_ms"]),
        max_attempts=int(row["max_attempts"]),
        workflow_id=str(row["workflow_id"]) if row["workflow_id"] else None,
        step_name=str(row["step_name"]) if row["step_name"] else None,
    )
