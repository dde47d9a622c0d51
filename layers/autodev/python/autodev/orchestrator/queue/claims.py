"""Submitting, claiming, leasing, finishing and cancelling tasks in ``autonomous_tasks``.

Workers claim the highest-priority, oldest ready task with ``FOR UPDATE SKIP LOCKED`` and hold
a lease that they renew while they run. Every state change after a claim is guarded by the
lease owner, so a worker whose lease was taken over cannot finish a task a second time.
A task whose lease expires goes back to the queue with exponential backoff and full jitter
until its attempts are spent; then it is dead, with its last error kept.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from autodev.config import get_settings
from autodev.db import connection, in_transaction
from autodev.errors import InvalidInput
from autodev.orchestrator.queue.models import (
    ERROR_CANCELLED,
    ERROR_FAILED,
    ERROR_RETRIES_EXHAUSTED,
    ERROR_WORKER_LOST,
    PRIORITIES,
    ClaimedTask,
    FailureOutcome,
    TaskSpec,
)

# Backoff between attempts: TASK_RETRY_BACKOFF_MS * 2^(attempt-1), capped, with full jitter.
BACKOFF_CAP_SECONDS = 300.0


def backoff_seconds(
    attempt: int, rng: random.Random | None = None, base_seconds: float | None = None
) -> float:
    """Full-jitter exponential backoff for the attempt that just failed (1-based)."""
    if base_seconds is None:
        base_seconds = get_settings().task_retry_backoff_ms / 1000
    ceiling = min(BACKOFF_CAP_SECONDS, base_seconds * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(0, ceiling)


def submit_task(spec: TaskSpec, *, conn: psycopg.Connection[Any] | None = None) -> str:
    """Queue a task and return its id."""
    if spec.priority not in PRIORITIES:
        choices = ", ".join(PRIORITIES)
        raise InvalidInput(f"priority must be one of {choices}, not {spec.priority!r}")
    if not spec.prompt.strip():
        raise InvalidInput("a task needs a prompt")
    settings = get_settings()
    task_id = str(uuid.uuid4())
    params = (
        task_id,
        spec.workflow_id,
        spec.step_name,
        spec.task_type,
        spec.prompt,
        Jsonb(spec.context),
        list(spec.allowed_tools),
        spec.max_turns,
        spec.budget_usd if spec.budget_usd is not None else settings.task_budget_usd,
        spec.priority,
        spec.task_token,
        spec.timeout_ms or settings.orchestrator_timeout,
        spec.max_attempts or settings.task_max_attempts,
    )
    with in_transaction(conn) as tx:
        tx.execute(
            """INSERT INTO autonomous_tasks (id, workflow_id, step_name, task_type, prompt,
                   context, allowed_tools, max_turns, budget_usd, priority, task_token,
                   timeout_ms, max_attempts)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            params,
        )
    return task_id


_CLAIM = """
    UPDATE autonomous_tasks SET
        status = 'running',
        lease_owner = %(worker)s,
        lease_expires_at = now() + make_interval(secs => %(lease)s),
        attempts = attempts + 1,
        started_at = coalesce(started_at, now()),
        updated_at = now()
    WHERE id = (
        SELECT id FROM autonomous_tasks
        WHERE status = 'queued' AND available_at <= now()
        ORDER BY priority_rank, created_at
        FOR UPDATE SKIP LOCKED
        LIMIT 1
    )
    RETURNING id, workflow_id, step_name, task_type, prompt, context, allowed_tools, max_turns,
        budget_usd, priority, timeout_ms, attempts, max_attempts, task_token, lease_expires_at
"""


def claim_next(worker_id: str, lease_seconds: float) -> ClaimedTask | None:
    """Take the lease on the next ready task, or return None when there is none."""
    with connection() as conn:
        row = conn.execute(_CLAIM, {"worker": worker_id, "lease": lease_seconds}).fetchone()
    if row is None:
        return None
    return ClaimedTask(
        id=str(row["id"]),
        workflow_id=str(row["workflow_id"]) if row["workflow_id"] else None,
        step_name=_opt_str(row["step_name"]),
        task_type=str(row["task_type"]),
        prompt=str(row["prompt"]),
        context=dict(row["context"]),
        allowed_tools=tuple(row["allowed_tools"]),
        max_turns=int(row["max_turns"]),
        budget_usd=float(row["budget_usd"]) if row["budget_usd"] is not None else None,
        priority=str(row["priority"]),
        timeout_ms=int(row["timeout_ms"]),
        attempts=int(row["attempts"]),
        max_attempts=int(row["max_attempts"]),
        task_token=_opt_str(row["task_token"]),
        lease_expires_at=row["lease_expires_at"],
    )


def renew_lease(task_id: str, worker_id: str, lease_seconds: float) -> bool:
    """Extend the lease; False means this worker no longer holds it and must stop."""
    with connection() as conn:
        cursor = conn.execute(
            """UPDATE autonomous_tasks
               SET lease_expires_at = now() + make_interval(secs => %s), updated_at = now()
               WHERE id = %s AND status = 'running' AND lease_owner = %s""",
            (lease_seconds, task_id, worker_id),
        )
        return cursor.rowcount == 1


def complete_task(
    task_id: str,
    worker_id: str,
    result: dict[str, Any],
    *,
    conn: psycopg.Connection[Any] | None = None,
) -> bool:
    """Mark the task succeeded if this worker still holds its lease; True when it did.

    Pass ``conn`` to commit the completion together with other writes (results, metrics).
    """
    with in_transaction(conn) as tx:
        cursor = tx.execute(
            """UPDATE autonomous_tasks
               SET status = 'succeeded', result = %s, finished_at = now(), updated_at = now(),
                   lease_owner = NULL, lease_expires_at = NULL, last_error = NULL
               WHERE id = %s AND status = 'running' AND lease_owner = %s""",
            (Jsonb(result), task_id, worker_id),
        )
        return cursor.rowcount == 1


def fail_task(
    task_id: str,
    worker_id: str,
    error: str,
    *,
    retryable: bool = True,
    error_code: str = ERROR_FAILED,
    conn: psycopg.Connection[Any] | None = None,
) -> FailureOutcome | None:
    """Record a failed attempt: back to the queue with backoff, or finished.

    A non-retryable failure (a budget reached, a bad prompt) ends as ``failed`` at once; a
    retryable one is queued again until ``max_attempts`` is spent and then ends ``dead``.
    Returns None when this worker no longer held the lease (someone else owns the outcome).
    Pass ``conn`` to commit the failure together with other writes (usage, metrics).
    """
    with in_transaction(conn) as tx:
        row = tx.execute(
            """SELECT attempts, max_attempts, task_token FROM autonomous_tasks
               WHERE id = %s AND status = 'running' AND lease_owner = %s FOR UPDATE""",
            (task_id, worker_id),
        ).fetchone()
        if row is None:
            return None
        return _record_failure(
            tx,
            task_id,
            int(row["attempts"]),
            int(row["max_attempts"]),
            _opt_str(row["task_token"]),
            error,
            retryable,
            error_code,
        )


def _record_failure(
    conn: psycopg.Connection[Any],
    task_id: str,
    attempts: int,
    max_attempts: int,
    task_token: str | None,
    error: str,
    retryable: bool,
    error_code: str = ERROR_FAILED,
) -> FailureOutcome:
    if retryable and attempts < max_attempts:
        delay = backoff_seconds(attempts)
        conn.execute(
            """UPDATE autonomous_tasks
               SET status = 'queued', available_at = now() + make_interval(secs => %s),
                   lease_owner = NULL, lease_expires_at = NULL, last_error = %s,
                   error_code = %s, updated_at = now()
               WHERE id = %s""",
            (delay, error, error_code, task_id),
        )
        return FailureOutcome(task_id, "queued", task_token, error, delay, error_code)
    if retryable:
        final, error_code = "dead", ERROR_RETRIES_EXHAUSTED
        error = f"{error} (gave up after {attempts} attempt{'s' if attempts != 1 else ''})"
    else:
        final = "failed"
    conn.execute(
        """UPDATE autonomous_tasks
           SET status = %s, finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
               last_error = %s, error_code = %s, updated_at = now()
           WHERE id = %s""",
        (final, error, error_code, task_id),
    )
    return FailureOutcome(task_id, final, task_token, error, None, error_code)


def rescue_expired(limit: int = 100) -> list[FailureOutcome]:
    """Return tasks whose lease expired (their worker died) to the queue, or end them dead."""
    outcomes: list[FailureOutcome] = []
    with connection() as conn:
        rows = conn.execute(
            """SELECT id, attempts, max_attempts, task_token, lease_owner FROM autonomous_tasks
               WHERE status = 'running' AND lease_expires_at < now()
               ORDER BY lease_expires_at LIMIT %s FOR UPDATE SKIP LOCKED""",
            (limit,),
        ).fetchall()
        for row in rows:
            error = (
                f"the worker {row['lease_owner']} stopped renewing its lease "
                f"(attempt {row['attempts']})"
            )
            outcomes.append(
                _record_failure(
                    conn,
                    str(row["id"]),
                    int(row["attempts"]),
                    int(row["max_attempts"]),
                    _opt_str(row["task_token"]),
                    error,
                    True,
                    ERROR_WORKER_LOST,
                )
            )
    return outcomes


def cancel_workflow_tasks(
    workflow_id: str, reason: str = "the workflow was cancelled"
) -> list[str]:
    """Cancel a workflow's queued and running tasks; running workers see their lease vanish."""
    with connection() as conn:
        rows = conn.execute(
            """UPDATE autonomous_tasks
               SET status = 'cancelled', finished_at = now(), lease_owner = NULL,
                   lease_expires_at = NULL, last_error = %s, error_code = %s, updated_at = now()
               WHERE workflow_id = %s AND status IN ('queued', 'running')
               RETURNING id""",
            (reason, ERROR_CANCELLED, workflow_id),
        ).fetchall()
    return [str(row["id"]) for row in rows]


def cancel_task(task_id: str, reason: str, *, refused: str | None = None) -> bool:
    """Cancel one queued task (its workflow no longer waits for it); True when it was queued.

    Its outcome is not sent: ``refused`` is the error Step Functions answered its token with.
    """
    with connection() as conn:
        cursor = conn.execute(
            """UPDATE autonomous_tasks
               SET status = 'cancelled', finished_at = now(), last_error = %s,
                   error_code = %s, outcome_sent_at = now(), outcome_refused = %s,
                   updated_at = now()
               WHERE id = %s AND status = 'queued'""",
            (reason, ERROR_CANCELLED, refused, task_id),
        )
        return cursor.rowcount == 1


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
