"""Submitting, claiming, leasing, finishing and cancelling tasks in ``autonomous_tasks``.

Workers claim the highest-priority, oldest ready task with ``FOR UPDATE SKIP LOCKED`` and hold
a lease that they renew while they run. Every state change after a claim is guarded by the
lease owner, so a worker whose lease was taken over cannot finish a task a second time.
A task whose lease expires goes back to the queue with exponential backoff and full jitter
until its attempts are spent; then it is dead, with its last error kept.

What is one statement (a claim, a completion, a renewal) runs as its own transaction, in one
round trip (``connection(autocommit=True)``); a worker that goes on completes its task and
claims the next in one statement (``complete_and_claim_next``).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from autodev.config import get_settings
from autodev.db import connection, in_transaction, tuple_cursor
from autodev.errors import InvalidInput
from autodev.orchestrator import wakeup
from autodev.orchestrator.queue.models import (
    ERROR_CANCELLED,
    ERROR_FAILED,
    ERROR_RETRIES_EXHAUSTED,
    ERROR_WORKER_LOST,
    PRIORITIES,
    ClaimedTask,
    ExpiredLease,
    FailureOutcome,
    RenewedLease,
    SubmittedTask,
    TaskSpec,
    attempt_deadline,
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
    """Queue a task and return its id (with a step key: the task already queued for it)."""
    return submit(spec, conn=conn).id


# A spec whose step key is taken is the same attempt of the same step, asked for again (a
# Lambda Retry after the first call committed): it gets the task already there. Step Functions
# waits on the newest token now, so the task takes it, and an outcome already sent (to the old
# token) is sent again to the new one.
# The RETURNING clause also announces the task to idle workers (``wakeup``): delivered when
# the insert commits, with no round trip of its own.
_SUBMIT = f"""
    INSERT INTO autonomous_tasks AS t (id, workflow_id, step_name, task_type, prompt, context,
        allowed_tools, max_turns, budget_usd, priority, task_token, timeout_ms, max_attempts,
        step_key)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (step_key) WHERE step_key IS NOT NULL DO UPDATE SET
        task_token = EXCLUDED.task_token,
        outcome_sent_at = CASE WHEN t.status IN ('succeeded', 'failed', 'dead', 'cancelled')
                               THEN NULL ELSE t.outcome_sent_at END,
        queued_heartbeat_at = CASE WHEN t.status = 'queued' THEN now()
                                   ELSE t.queued_heartbeat_at END,
        updated_at = now()
    RETURNING t.id::text AS id, t.status, (t.xmax = 0) AS created,
        pg_notify('{wakeup.CHANNEL}', '') AS announced
"""  # noqa: S608 - a constant channel name


def submit(spec: TaskSpec, *, conn: psycopg.Connection[Any] | None = None) -> SubmittedTask:
    """Queue a task; with a step key already taken, return that task (its token refreshed)."""
    if spec.priority not in PRIORITIES:
        choices = ", ".join(PRIORITIES)
        raise InvalidInput(f"priority must be one of {choices}, not {spec.priority!r}")
    if not spec.prompt.strip():
        raise InvalidInput("a task needs a prompt")
    settings = get_settings()
    params = (
        str(uuid.uuid4()),
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
        spec.step_key,
    )
    with in_transaction(conn, autocommit=True) as tx:
        row = tx.execute(_SUBMIT, params).fetchone()
    assert row is not None  # INSERT ... ON CONFLICT DO UPDATE returns the row either way
    return SubmittedTask(str(row["id"]), bool(row["created"]), str(row["status"]))


# The lease a claim takes, on the ready task that comes first: highest priority, then oldest
# (the partial index autonomous_tasks_claim_idx holds exactly the queued tasks, in this order).
_CLAIM_SET = """status = 'running', lease_owner = %(worker)s,
        lease_expires_at = now() + make_interval(secs => %(lease)s),
        attempts = attempts + 1, started_at = coalesce(started_at, now()),
        claimed_at = now(), updated_at = now()"""
_FIRST_READY = """SELECT id FROM autonomous_tasks
        WHERE status = 'queued' AND available_at <= now()
        ORDER BY task_priority_rank(priority), created_at
        FOR UPDATE SKIP LOCKED
        LIMIT 1"""
# The claimed task's columns, in ClaimedTask's order (``_claimed``), cast to the types it holds:
# read as plain tuples, a claim builds no dict and no UUID or Decimal objects only to convert
# them again.
_CLAIMED = """id::text, workflow_id::text, step_name, task_type, prompt, context, allowed_tools,
        max_turns, budget_usd::float8, priority, timeout_ms, attempts, max_attempts, task_token,
        lease_expires_at, claimed_at"""
# A claim commits without waiting for its WAL to reach the disk (synchronous_commit off, set by
# set_config for this one transaction: the pooled connection keeps its setting, and RDS Proxy
# sees no session SET to pin on). A claim is the one write the queue can afford to lose: a
# crash of the database loses at most the claims of its last moments (until the WAL writer's
# next flush, under a second, or the next synchronous commit on the server, which flushes them
# too). Such a task is queued again, as if never claimed, and the worker that started it finds
# the lease gone at its next renewal or its completion and records nothing, as when the rescuer
# hands a task on. Completions, failures and complete-and-claim-next (which completes) still
# wait for the flush: no outcome is lost. A claim then waits for no disk write, where the
# minimal queue waits for two per task: with 4 workers, 1.01-1.03 times its rate before and
# 1.27-1.30 after (the queue bench's measures, alternated on one database; issue 18).
_CLAIM = f"""UPDATE autonomous_tasks SET {_CLAIM_SET}
    WHERE id = ({_FIRST_READY}) AND set_config('synchronous_commit', 'off', true) = 'off'
    RETURNING {_CLAIMED}"""  # noqa: S608 - constants only

# The task this worker holds the lease on: what a renewal, a completion, a failure and a
# give-back update, and what complete-and-claim-next checks before it claims.
_HELD = "id = %(task)s AND status = 'running' AND lease_owner = %(worker)s"
_COMPLETE = f"""UPDATE autonomous_tasks
    SET status = 'succeeded', result = %(result)s, finished_at = now(), updated_at = now(),
        lease_owner = NULL, lease_expires_at = NULL, last_error = NULL
    WHERE {_HELD}"""  # noqa: S608 - constants only

# One statement: the claim of the next ready task, only while this worker holds the lease on
# the task it completes, and the completion. Always one row: ``completed``, and the claimed
# task's columns (NULL when nothing was ready or the lease was not held).
#
# The claim runs first, so that it walks the claim index with the snapshot the statement has
# just taken. Run after the completion, it met tasks that other workers had claimed meanwhile,
# still queued in its older snapshot: locking one to find it taken holds that task's row
# until this statement commits, and its new owner then waited for that commit to complete it
# (4 workers on 2 cores: 7.5% of the database's time went to such waits, against 1.4% when
# claiming first; 1,715 tasks a second against 1,949). ``done`` reads ``claimed`` only to run
# after it. The lease can still be lost between the snapshot and the completion (a rescue in
# that instant): then ``completed`` is false with a task claimed, which
# ``complete_and_claim_next`` gives back.
_COMPLETE_AND_CLAIM = f"""
    WITH claimed AS (
        UPDATE autonomous_tasks SET {_CLAIM_SET}
        WHERE EXISTS (SELECT FROM autonomous_tasks WHERE {_HELD}) AND id = ({_FIRST_READY})
        RETURNING {_CLAIMED}),
    done AS ({_COMPLETE} AND (SELECT count(*) FROM claimed) >= 0 RETURNING id)
    SELECT EXISTS (SELECT FROM done) AS completed, claimed.*
    FROM (VALUES (1)) AS one LEFT JOIN claimed ON true"""  # noqa: S608 - constants only


def claim_next(worker_id: str, lease_seconds: float) -> ClaimedTask | None:
    """Take the lease on the next ready task, or return None when there is none."""
    with connection(autocommit=True) as conn:
        row = (
            tuple_cursor(conn)
            .execute(_CLAIM, {"worker": worker_id, "lease": lease_seconds})
            .fetchone()
        )
    return None if row is None else _claimed(row)


def _claimed(row: Sequence[Any]) -> ClaimedTask:
    """The task from the ``_CLAIMED`` columns."""
    (
        task_id,
        workflow_id,
        step_name,
        task_type,
        prompt,
        context,
        allowed_tools,
        max_turns,
        budget_usd,
        priority,
        timeout_ms,
        attempts,
        max_attempts,
        task_token,
        lease_expires_at,
        claimed_at,
    ) = row
    return ClaimedTask(
        id=task_id,
        workflow_id=workflow_id,
        step_name=step_name,
        task_type=task_type,
        prompt=prompt,
        context=context,
        allowed_tools=tuple(allowed_tools),
        max_turns=max_turns,
        budget_usd=budget_usd,
        priority=priority,
        timeout_ms=timeout_ms,
        attempts=attempts,
        max_attempts=max_attempts,
        task_token=task_token,
        lease_expires_at=lease_expires_at,
        claimed_at=claimed_at,
    )


def renew_lease(task_id: str, worker_id: str, lease_seconds: float) -> RenewedLease | None:
    """Extend the lease; None means this worker no longer holds it and must stop.

    The renewal carries the task token Step Functions waits on now (a retried step refreshes
    it), for the worker's heartbeats.
    """
    with connection(autocommit=True) as conn:
        row = conn.execute(
            f"""UPDATE autonomous_tasks
               SET lease_expires_at = now() + make_interval(secs => %(lease)s),
                   updated_at = now()
               WHERE {_HELD}
               RETURNING task_token""",  # noqa: S608 - constants only
            {"lease": lease_seconds, "task": task_id, "worker": worker_id},
        ).fetchone()
    return None if row is None else RenewedLease(_opt_str(row["task_token"]))


def expired_leases(limit: int = 100) -> list[ExpiredLease]:
    """Running tasks whose lease has lapsed, with their owner and their attempt's deadline."""
    with connection() as conn:
        rows = conn.execute(
            """SELECT id::text, lease_owner, coalesce(claimed_at, started_at) AS claimed_at,
                      timeout_ms
               FROM autonomous_tasks
               WHERE status = 'running' AND lease_expires_at < now()
               ORDER BY lease_expires_at LIMIT %s""",
            (limit,),
        ).fetchall()
    return [
        ExpiredLease(
            str(row["id"]),
            str(row["lease_owner"]),
            attempt_deadline(row["claimed_at"], int(row["timeout_ms"])),
        )
        for row in rows
    ]


def extend_expired_lease(lease: ExpiredLease, lease_seconds: float) -> bool:
    """Give a live owner's lapsed lease another term, never past its attempt's deadline;
    False when the lease was renewed, rescued or finished meanwhile, or the deadline passed."""
    with connection() as conn:
        cursor = conn.execute(
            f"""UPDATE autonomous_tasks
               SET lease_expires_at = least(now() + make_interval(secs => %(lease)s),
                                            %(deadline)s),
                   updated_at = now()
               WHERE {_HELD} AND lease_expires_at < now() AND %(deadline)s > now()""",  # noqa: S608 - constants only
            {
                "lease": lease_seconds,
                "deadline": lease.deadline,
                "task": lease.task_id,
                "worker": lease.owner,
            },
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
    params = {"result": Jsonb(result), "task": task_id, "worker": worker_id}
    with in_transaction(conn, autocommit=True) as tx:
        return tuple_cursor(tx).execute(_COMPLETE, params).rowcount == 1


def complete_and_claim_next(
    task_id: str,
    worker_id: str,
    result: dict[str, Any],
    lease_seconds: float,
    *,
    conn: psycopg.Connection[Any] | None = None,
) -> tuple[bool, ClaimedTask | None]:
    """``complete_task``, and for a worker that goes on, the claim of its next task in the
    same round trip: (completed, the next task or None). Nothing stays claimed when the
    completion did not take (the lease was lost)."""
    params = {
        "result": Jsonb(result),
        "task": task_id,
        "worker": worker_id,
        "lease": lease_seconds,
    }
    with in_transaction(conn, autocommit=True) as tx:
        row = tuple_cursor(tx).execute(_COMPLETE_AND_CLAIM, params).fetchone()
        assert row is not None  # the statement always answers one row
        completed, claimed = bool(row[0]), row[1:]
        if claimed[0] is None:
            return completed, None
        if not completed:  # the lease was lost after the claim checked it: give the task back
            release_claim(str(claimed[0]), worker_id, conn=tx)
            return False, None
    return True, _claimed(claimed)


def release_claim(
    task_id: str, worker_id: str, *, conn: psycopg.Connection[Any] | None = None
) -> bool:
    """Give a claimed task back to the queue untouched (a worker that claimed its next task
    with its last completion, then was told to stop before starting it): the claim's attempt
    is not counted. False when this worker no longer holds it."""
    with in_transaction(conn, autocommit=True) as tx:
        row = tx.execute(
            f"""UPDATE autonomous_tasks
               SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,
                   claimed_at = NULL, attempts = greatest(attempts - 1, 0), updated_at = now(),
                   started_at = CASE WHEN attempts <= 1 THEN NULL ELSE started_at END
               WHERE {_HELD}
               RETURNING id""",  # noqa: S608 - constants only
            {"task": task_id, "worker": worker_id},
        ).fetchone()
    return row is not None


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
            f"""SELECT attempts, max_attempts, task_token FROM autonomous_tasks
               WHERE {_HELD} FOR UPDATE""",  # noqa: S608 - constants only
            {"task": task_id, "worker": worker_id},
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
