"""The task queue in ``autonomous_tasks``.

Workers claim the highest-priority, oldest ready task with ``FOR UPDATE SKIP LOCKED`` and hold
a lease that they renew while they run. Every state change after a claim is guarded by the
lease owner, so a worker whose lease was taken over cannot finish a task a second time.
A task whose lease expires goes back to the queue with exponential backoff and full jitter
until its attempts are spent; then it is dead, with its last error kept.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from autodev.config import get_settings
from autodev.db import connection
from autodev.errors import InvalidInput, NotFound

PRIORITIES = ("critical", "high", "normal", "low")
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "dead", "cancelled"})

# Error names a failed task reports to Step Functions (SendTaskFailure's ``error``), so that a
# workflow can tell why a step failed: ``Catch`` on them, or show them.
ERROR_FAILED = "Autodev.TaskFailed"
ERROR_RETRIES_EXHAUSTED = "Autodev.RetriesExhausted"
ERROR_WORKER_LOST = "Autodev.WorkerLost"
ERROR_CANCELLED = "Autodev.Cancelled"
ERROR_TIMEOUT = "Autodev.Timeout"
ERROR_BUDGET = "Autodev.BudgetExceeded"
ERROR_WORKFLOW_BUDGET = "Autodev.WorkflowBudgetExceeded"
ERROR_TURN_LIMIT = "Autodev.TurnLimitReached"
ERROR_REPEATED = "Autodev.RepeatedError"

# Backoff between attempts: TASK_RETRY_BACKOFF_MS * 2^(attempt-1), capped, with full jitter.
BACKOFF_CAP_SECONDS = 300.0


@dataclass(frozen=True)
class TaskSpec:
    """What a caller asks the orchestrator to run."""

    task_type: str
    prompt: str
    priority: str = "normal"
    context: dict[str, Any] = field(default_factory=dict)
    allowed_tools: tuple[str, ...] = ()
    max_turns: int = 30
    budget_usd: float | None = None
    timeout_ms: int | None = None
    max_attempts: int | None = None
    workflow_id: str | None = None
    step_name: str | None = None
    task_token: str | None = None


@dataclass(frozen=True)
class ClaimedTask:
    """A task a worker holds the lease on. ``task_token`` stays inside the worker."""

    id: str
    workflow_id: str | None
    step_name: str | None
    task_type: str
    prompt: str
    context: dict[str, Any]
    allowed_tools: tuple[str, ...]
    max_turns: int
    budget_usd: float | None
    priority: str
    timeout_ms: int
    attempts: int
    max_attempts: int
    task_token: str | None
    lease_expires_at: datetime


@dataclass(frozen=True)
class FailureOutcome:
    """What became of a failed attempt: queued again, or finished for good."""

    task_id: str
    status: str
    task_token: str | None
    error: str
    retry_in_seconds: float | None = None
    error_code: str = ERROR_FAILED

    @property
    def final(self) -> bool:
        return self.status in TERMINAL_STATUSES


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
    query = """
        INSERT INTO autonomous_tasks (id, workflow_id, step_name, task_type, prompt, context,
            allowed_tools, max_turns, budget_usd, priority, task_token, timeout_ms, max_attempts)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    """
    if conn is not None:
        conn.execute(query, params)
    else:
        with connection() as own:
            own.execute(query, params)
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
    query = """UPDATE autonomous_tasks
               SET status = 'succeeded', result = %s, finished_at = now(), updated_at = now(),
                   lease_owner = NULL, lease_expires_at = NULL, last_error = NULL
               WHERE id = %s AND status = 'running' AND lease_owner = %s"""
    params = (Jsonb(result), task_id, worker_id)
    if conn is not None:
        return conn.execute(query, params).rowcount == 1
    with connection() as own:
        return own.execute(query, params).rowcount == 1


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
    if conn is None:
        with connection() as own:
            return fail_task(
                task_id, worker_id, error, retryable=retryable, error_code=error_code, conn=own
            )
    row = conn.execute(
        """SELECT attempts, max_attempts, task_token FROM autonomous_tasks
           WHERE id = %s AND status = 'running' AND lease_owner = %s FOR UPDATE""",
        (task_id, worker_id),
    ).fetchone()
    if row is None:
        return None
    return _record_failure(
        conn,
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


_STATUS_COLUMNS = """id, workflow_id, step_name, task_type, priority, status, attempts,
    max_attempts, last_error, error_code, result, model, model_provider, turns, input_tokens,
    output_tokens, cache_read_tokens, cache_creation_tokens, cost_usd, budget_usd, max_turns,
    created_at, started_at, finished_at, lease_owner, lease_expires_at, available_at,
    outcome_sent_at"""


def get_task_status(task_id: str) -> dict[str, Any]:
    """The task's state, attempts, usage and result. The task token is never included."""
    try:
        uuid.UUID(task_id)
    except ValueError:
        raise NotFound(f"no task {task_id!r}") from None
    with connection() as conn:
        row = conn.execute(
            f"SELECT {_STATUS_COLUMNS} FROM autonomous_tasks WHERE id = %s",  # noqa: S608 - constant
            (task_id,),
        ).fetchone()
    if row is None:
        raise NotFound(f"no task {task_id!r}")
    status = dict(row)
    status["id"] = str(status["id"])
    if status["workflow_id"] is not None:
        status["workflow_id"] = str(status["workflow_id"])
    return status


_DEPTH = """SELECT priority, status, count(*) AS n,
                  extract(epoch FROM now() - min(created_at)) AS oldest
           FROM autonomous_tasks WHERE status IN ('queued', 'running')
           GROUP BY priority, status"""


def queue_depth(*, conn: psycopg.Connection[Any] | None = None) -> dict[str, Any]:
    """Queued tasks by priority, running count, and the age of the oldest queued task."""
    if conn is not None:
        rows = conn.execute(_DEPTH).fetchall()
    else:
        with connection() as own:
            rows = own.execute(_DEPTH).fetchall()
    queued = dict.fromkeys(PRIORITIES, 0)
    running = 0
    oldest: float | None = None
    for row in rows:
        count = int(row["n"])
        if row["status"] == "queued":
            queued[str(row["priority"])] = count
            age = float(row["oldest"])
            oldest = age if oldest is None else max(oldest, age)
        else:
            running += count
    return {"queued": queued, "running": running, "oldest_queued_seconds": oldest}


def record_usage(
    conn: psycopg.Connection[Any],
    task_id: str,
    *,
    model: str | None,
    model_provider: str,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int,
    cache_creation_tokens: int,
    cost_usd: float,
    turns: int,
) -> None:
    """Add one attempt's usage to the task (a retried task's attempts all count)."""
    conn.execute(
        """UPDATE autonomous_tasks SET
               model = coalesce(%s, model), model_provider = %s,
               input_tokens = input_tokens + %s, output_tokens = output_tokens + %s,
               cache_read_tokens = cache_read_tokens + %s,
               cache_creation_tokens = cache_creation_tokens + %s,
               cost_usd = cost_usd + %s, turns = turns + %s, updated_at = now()
           WHERE id = %s""",
        (
            model,
            model_provider,
            input_tokens,
            output_tokens,
            cache_read_tokens,
            cache_creation_tokens,
            cost_usd,
            turns,
            task_id,
        ),
    )


def workflow_budget(workflow_id: str) -> tuple[float | None, float]:
    """The workflow's budget (None: none set) and what its tasks have cost so far."""
    with connection() as conn:
        row = conn.execute(
            """SELECT w.budget_usd,
                      (SELECT coalesce(sum(t.cost_usd), 0) FROM autonomous_tasks t
                       WHERE t.workflow_id = w.id) AS spent
               FROM workflows w WHERE w.id = %s""",
            (workflow_id,),
        ).fetchone()
    if row is None:
        return None, 0.0
    budget = float(row["budget_usd"]) if row["budget_usd"] is not None else None
    return budget, float(row["spent"])


@dataclass(frozen=True)
class PendingOutcome:
    """A finished task whose outcome Step Functions has not been told yet."""

    task_id: str
    status: str
    task_token: str
    result: dict[str, Any] | None
    error: str | None
    error_code: str | None


def pending_outcomes(
    older_than_seconds: float = 0, limit: int = 100, *, task_id: str | None = None
) -> list[PendingOutcome]:
    """Finished tasks with a task token whose outcome was not sent (the outbox)."""
    with connection() as conn:
        rows = conn.execute(
            """SELECT id, status, task_token, result, last_error, error_code
               FROM autonomous_tasks
               WHERE task_token IS NOT NULL AND outcome_sent_at IS NULL
                 AND status IN ('succeeded', 'failed', 'dead', 'cancelled')
                 AND finished_at <= now() - make_interval(secs => %s)
                 AND (%s::uuid IS NULL OR id = %s::uuid)
               ORDER BY finished_at LIMIT %s""",
            (older_than_seconds, task_id, task_id, limit),
        ).fetchall()
    return [
        PendingOutcome(
            str(row["id"]),
            str(row["status"]),
            str(row["task_token"]),
            row["result"],
            _opt_str(row["last_error"]),
            _opt_str(row["error_code"]),
        )
        for row in rows
    ]


def mark_outcome_sent(task_id: str) -> bool:
    """Record that Step Functions has the outcome; False when it was already recorded."""
    with connection() as conn:
        cursor = conn.execute(
            """UPDATE autonomous_tasks SET outcome_sent_at = now()
               WHERE id = %s AND outcome_sent_at IS NULL""",
            (task_id,),
        )
        return cursor.rowcount == 1


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def queued_needing_heartbeat(older_than_seconds: float, limit: int = 200) -> list[tuple[str, str]]:
    """Queued tasks with a task token that have not been heartbeated for a while.

    Returns (task id, task token) pairs, and stamps them, so that two rescuers running at
    once do not both send heartbeats for the same task.
    """
    with connection() as conn:
        rows = conn.execute(
            """UPDATE autonomous_tasks SET queued_heartbeat_at = now()
               WHERE id IN (
                   SELECT id FROM autonomous_tasks
                   WHERE status = 'queued' AND task_token IS NOT NULL
                     AND coalesce(queued_heartbeat_at, created_at)
                         <= now() - make_interval(secs => %s)
                   ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED)
               RETURNING id::text, task_token""",
            (older_than_seconds, limit),
        ).fetchall()
    return [(str(row["id"]), str(row["task_token"])) for row in rows]


def cancel_task(task_id: str, reason: str) -> bool:
    """Cancel one queued task (its workflow no longer waits for it); True when it was queued."""
    with connection() as conn:
        cursor = conn.execute(
            """UPDATE autonomous_tasks
               SET status = 'cancelled', finished_at = now(), last_error = %s,
                   error_code = %s, outcome_sent_at = now(), updated_at = now()
               WHERE id = %s AND status = 'queued'""",
            (reason, ERROR_CANCELLED, task_id),
        )
        return cursor.rowcount == 1
