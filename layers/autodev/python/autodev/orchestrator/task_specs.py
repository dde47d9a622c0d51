"""What a queued task was asked to do, read back by its id (never its task token).

The scripted model server (a local stand-in) plays a task's session from this: its step,
prompt, tools and context.
"""

from __future__ import annotations

import uuid

from autodev.db import connection
from autodev.errors import NotFound
from autodev.orchestrator.queue import TaskSpec


def task_spec(task_id: str) -> TaskSpec:
    """The task's submitted spec; NotFound when there is no such task."""
    try:
        uuid.UUID(task_id)
    except ValueError:
        raise NotFound(f"no task {task_id!r}") from None
    with connection() as conn:
        row = conn.execute(
            """SELECT task_type, prompt, priority, context, allowed_tools, max_turns, budget_usd,
                      timeout_ms, max_attempts, workflow_id, step_name
               FROM autonomous_tasks WHERE id = %s""",
            (task_id,),
        ).fetchone()
    if row is None:
        raise NotFound(f"no task {task_id!r}")
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
