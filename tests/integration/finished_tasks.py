"""Tasks taken through the orchestrator's own queue API to a chosen end, for tests that read
what the orchestrator leaves behind (the monitoring dashboard, /monitor, /orchestrator)."""

from __future__ import annotations

from autodev.db import connection
from autodev.orchestrator import queue
from autodev.orchestrator.queue import TaskSpec


def finish_task(
    outcome: str,
    *,
    worker: str,
    step_name: str | None = None,
    task_type: str = "analysis",
    priority: str = "normal",
    model: str | None = None,
    model_provider: str = "scripted",
    tokens: tuple[int, int] = (0, 0),
    cache_read_tokens: int = 0,
    cost: float = 0.0,
    error: str = "boom",
) -> str:
    """Submit one task, claim it, record its usage (when ``model`` is given) and end it as
    ``outcome``: succeeded, failed (not retryable), dead (retryable, out of attempts), or
    running (left claimed)."""
    task_id = queue.submit_task(
        TaskSpec(
            task_type=task_type,
            prompt="look",
            step_name=step_name,
            max_attempts=1,
            priority=priority,
        )
    )
    claimed = queue.claim_next(worker, 60)
    assert claimed is not None
    assert claimed.id == task_id
    if model is not None:
        with connection() as conn:
            queue.record_usage(
                conn,
                task_id,
                model=model,
                model_provider=model_provider,
                input_tokens=tokens[0],
                output_tokens=tokens[1],
                cache_read_tokens=cache_read_tokens,
                cache_creation_tokens=0,
                cost_usd=cost,
                turns=1,
            )
    if outcome == "succeeded":
        assert queue.complete_task(task_id, worker, {"ok": True})
    elif outcome in ("failed", "dead"):
        failure = queue.fail_task(task_id, worker, error, retryable=outcome == "dead")
        assert failure is not None
        assert failure.status == outcome
    return task_id
