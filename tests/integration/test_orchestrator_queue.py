"""The task queue on a real Postgres: order, leases, retries, dead tasks, cancellation."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from autodev.db import connection
from autodev.errors import InvalidInput
from autodev.orchestrator import queue
from autodev.orchestrator.queue import TaskSpec


def _submit(prompt: str, priority: str = "normal", **kwargs: Any) -> str:
    return queue.submit_task(
        TaskSpec(task_type="analysis", prompt=prompt, priority=priority, **kwargs)
    )


def _make_available_now(task_id: str) -> None:
    with connection() as conn:
        conn.execute("UPDATE autonomous_tasks SET available_at = now() WHERE id = %s", (task_id,))


def _expire_lease(task_id: str) -> None:
    with connection() as conn:
        conn.execute(
            "UPDATE autonomous_tasks SET lease_expires_at = now() - interval '1 second' "
            "WHERE id = %s",
            (task_id,),
        )


def test_claims_follow_priority_then_age(database: str) -> None:
    low = _submit("low", "low")
    normal_1 = _submit("normal 1")
    critical = _submit("critical", "critical")
    normal_2 = _submit("normal 2")
    high = _submit("high", "high")
    order = []
    while (task := queue.claim_next("w", 60)) is not None:
        order.append(task.id)
    assert order == [critical, high, normal_1, normal_2, low]


def test_bad_input_is_refused_and_nothing_is_queued(database: str) -> None:
    with pytest.raises(InvalidInput, match="priority"):
        _submit("x", "urgent")
    with pytest.raises(InvalidInput, match="prompt"):
        _submit("   ")
    assert queue.queue_depth().queued == dict.fromkeys(queue.PRIORITIES, 0)


def test_the_database_refuses_a_status_or_priority_it_does_not_know(database: str) -> None:
    # Checked by the columns' domains (migration 0020), on insert and on update alike.
    import psycopg

    task_id = _submit("checked")
    for column, value in (("status", "paused"), ("priority", "urgent")):
        with pytest.raises(psycopg.errors.CheckViolation), connection() as conn:
            conn.execute(
                f"UPDATE autonomous_tasks SET {column} = %s WHERE id = %s",
                (value, task_id),
            )
    with pytest.raises(psycopg.errors.CheckViolation), connection() as conn:
        conn.execute(
            "INSERT INTO autonomous_tasks (id, task_type, prompt, priority)"
            " VALUES (gen_random_uuid(), 'analysis', 'x', 'urgent')"
        )
    with connection() as conn:
        row = conn.execute(
            "SELECT status, priority FROM autonomous_tasks WHERE id = %s", (task_id,)
        ).fetchone()
    assert row == {"status": "queued", "priority": "normal"}


def test_a_task_is_claimed_by_one_worker_only(database: str) -> None:
    _submit("only one")
    first = queue.claim_next("a", 60)
    assert first is not None
    assert queue.claim_next("b", 60) is None
    assert queue.renew_lease(first.id, "a", 60)
    assert not queue.renew_lease(first.id, "b", 60)


def test_only_a_claim_commits_without_waiting_for_the_wal_flush(database: str) -> None:
    # A trigger records the synchronous_commit each change of a task's row commits with: a
    # lost claim leaves its task queued, a lost outcome would be lost for good.
    with connection() as conn:
        conn.execute("CREATE TABLE commit_modes (n serial, status text, mode text)")
        conn.execute(
            """CREATE FUNCTION record_commit_mode() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                   INSERT INTO commit_modes (status, mode)
                       VALUES (NEW.status, current_setting('synchronous_commit'));
                   RETURN NEW;
               END $$"""
        )
        conn.execute(
            "CREATE TRIGGER record_commit_mode AFTER UPDATE ON autonomous_tasks "
            "FOR EACH ROW EXECUTE FUNCTION record_commit_mode()"
        )
    _submit("first")
    _submit("second")
    _submit("third")
    first = queue.claim_next("w", 60)
    assert first is not None
    completed, second = queue.complete_and_claim_next(first.id, "w", {}, 60)
    assert completed
    assert second is not None
    assert queue.fail_task(second.id, "w", "broke", retryable=False)
    third = queue.claim_next("w", 60)
    assert third is not None
    assert queue.complete_task(third.id, "w", {})
    with connection() as conn:
        modes = conn.execute("SELECT status, mode FROM commit_modes ORDER BY n").fetchall()
        setting = conn.execute("SHOW synchronous_commit").fetchone()
    assert [(row["status"], row["mode"]) for row in modes] == [
        ("running", "off"),  # claimed
        ("running", "on"),  # claimed with the completion of the first
        ("succeeded", "on"),
        ("failed", "on"),
        ("running", "off"),
        ("succeeded", "on"),
    ]
    assert setting == {"synchronous_commit": "on"}  # the pooled connection is as it was


def test_retryable_failures_back_off_then_end_dead_with_the_last_error(database: str) -> None:
    task_id = _submit("flaky", max_attempts=2)
    task = queue.claim_next("w", 60)
    assert task is not None
    first = queue.fail_task(task.id, "w", "boom 1")
    assert first is not None
    assert first.status == "queued"
    assert first.retry_in_seconds is not None
    assert 0 <= first.retry_in_seconds <= 2.0  # TASK_RETRY_BACKOFF_MS defaults to 2000
    status = queue.get_task_status(task_id)
    assert status.available_at >= status.created_at
    _make_available_now(task_id)
    again = queue.claim_next("w", 60)
    assert again is not None
    assert again.attempts == 2
    last = queue.fail_task(again.id, "w", "boom 2")
    assert last is not None
    assert last.status == "dead"
    assert last.final
    assert last.error_code == queue.ERROR_RETRIES_EXHAUSTED
    status = queue.get_task_status(task_id)
    assert status.status == "dead"
    assert status.last_error == "boom 2 (gave up after 2 attempts)"
    assert status.attempts == 2


def test_a_non_retryable_failure_ends_at_once_with_its_code(database: str) -> None:
    task_id = _submit("over budget", max_attempts=3)
    task = queue.claim_next("w", 60)
    assert task is not None
    outcome = queue.fail_task(
        task.id, "w", "the task reached its budget", retryable=False, error_code=queue.ERROR_BUDGET
    )
    assert outcome is not None
    assert outcome.status == "failed"
    status = queue.get_task_status(task_id)
    assert (status.status, status.error_code) == ("failed", queue.ERROR_BUDGET)


def test_expired_leases_are_rescued_and_the_old_owner_cannot_finish(database: str) -> None:
    task_id = _submit("rescue me", max_attempts=2)
    task = queue.claim_next("dead-worker", 60)
    assert task is not None
    assert queue.rescue_expired() == []  # the lease still holds
    _expire_lease(task_id)
    (outcome,) = queue.rescue_expired()
    assert (outcome.status, outcome.error_code) == ("queued", queue.ERROR_WORKER_LOST)
    assert "dead-worker" in outcome.error
    assert not queue.complete_task(task_id, "dead-worker", {"late": True})
    _make_available_now(task_id)
    retry = queue.claim_next("live-worker", 60)
    assert retry is not None
    assert retry.id == task_id
    _expire_lease(task_id)
    (final,) = queue.rescue_expired()
    assert final.status == "dead"
    assert queue.get_task_status(task_id).status == "dead"


def test_cancelling_a_workflow_cancels_its_queued_and_running_tasks(database: str) -> None:
    workflow_id = str(uuid.uuid4())
    with connection() as conn:
        conn.execute(
            "INSERT INTO workflows (id, template, execution_name, requested_by) "
            "VALUES (%s, 'code-review', %s, 'U1')",
            (workflow_id, f"code-review-{workflow_id[:8]}"),
        )
    running = _submit("running", workflow_id=workflow_id)
    claimed = queue.claim_next("w", 60)
    assert claimed is not None
    assert claimed.id == running
    queued = _submit("queued", workflow_id=workflow_id)
    other = _submit("other workflow")
    assert sorted(queue.cancel_workflow_tasks(workflow_id)) == sorted([running, queued])
    assert not queue.renew_lease(running, "w", 60)
    assert queue.get_task_status(queued).error_code == queue.ERROR_CANCELLED
    assert queue.get_task_status(other).status == "queued"


def test_status_never_shows_the_task_token(database: str) -> None:
    task_id = _submit("secret token", task_token="TOKEN-SECRET-123")
    assert "TOKEN-SECRET-123" not in repr(queue.get_task_status(task_id))


def test_outcome_outbox_lists_finished_tasks_until_marked_sent(database: str) -> None:
    with_token = _submit("a", task_token="tok-a")
    _submit("b")  # no token: nothing to send
    task = queue.claim_next("w", 60)
    assert task is not None
    assert task.id == with_token
    assert queue.pending_outcomes() == []
    assert queue.complete_task(task.id, "w", {"ok": True})
    (pending,) = queue.pending_outcomes()
    assert (pending.task_id, pending.status, pending.result) == (
        with_token,
        "succeeded",
        {"ok": True},
    )
    assert queue.mark_outcome_sent(with_token)
    assert not queue.mark_outcome_sent(with_token)
    assert queue.pending_outcomes() == []


def test_a_completion_claims_the_next_task_in_order_and_only_while_the_lease_is_held(
    database: str,
) -> None:
    first = _submit("first", "high")
    second = _submit("second")
    third = _submit("third", "critical")
    claimed = queue.claim_next("w", 60)
    assert claimed is not None
    assert claimed.id == third

    done, following = queue.complete_and_claim_next(third, "w", {"n": 3}, 60)
    assert done
    assert following is not None
    assert (following.id, following.prompt, following.attempts) == (first, "first", 1)
    assert queue.get_task_status(third).result == {"n": 3}
    assert queue.get_task_status(first).lease_owner == "w"

    # A worker whose lease was taken over completes nothing and claims nothing.
    _expire_lease(first)
    assert [o.task_id for o in queue.rescue_expired()] == [first]
    assert queue.complete_and_claim_next(first, "w", {"late": True}, 60) == (False, None)
    assert queue.get_task_status(first).status == "queued"
    assert queue.get_task_status(second).status == "queued"

    # The last completion finds the queue empty.
    assert queue.cancel_task(first, "not needed")
    last = queue.claim_next("w", 60)
    assert last is not None
    assert last.id == second
    assert queue.complete_and_claim_next(second, "w", {}, 60) == (True, None)
    depth = queue.queue_depth()
    assert (depth.total_queued, depth.running) == (0, 0)


def test_a_lease_lost_while_the_completion_waits_gives_the_claimed_task_back(
    database: str,
) -> None:
    # The statement claims first, with the snapshot it starts with, and completes after: a
    # rescue that commits in between (held open here until the completion waits on it) makes
    # the completion miss, and the task claimed meanwhile goes back to the queue untouched.
    import psycopg

    from autodev.local.testing import wait_for

    first, second = _submit("first", "high"), _submit("second")
    claimed = queue.claim_next("w", 60)
    assert claimed is not None
    assert claimed.id == first
    answer: list[tuple[bool, Any]] = []
    with psycopg.connect(database) as rescuer:
        rescuer.execute(
            "UPDATE autonomous_tasks SET status = 'queued', lease_owner = NULL,"
            " lease_expires_at = NULL WHERE id = %s",
            (first,),
        )
        completing = threading.Thread(
            target=lambda: answer.append(queue.complete_and_claim_next(first, "w", {}, 60))
        )
        completing.start()

        def completion_waits() -> bool:
            with psycopg.connect(database) as watcher:
                row = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE %s",
                    ("%WITH claimed AS%",),
                ).fetchone()
            return row is not None and row[0] == 1

        wait_for(completion_waits, timeout=30, what="the completion to wait on the rescue")
        rescuer.commit()
        completing.join(timeout=30)
    assert answer == [(False, None)]
    given_back = queue.get_task_status(second)
    assert (given_back.status, given_back.lease_owner, given_back.attempts) == ("queued", None, 0)
    assert queue.get_task_status(first).status == "queued"  # the rescue's, not the completion's


def test_a_claim_walks_the_claim_index_in_order_however_many_tasks_wait(database: str) -> None:
    # A new table has no statistics, as after a quiet spell they say few tasks are queued:
    # the claim must still read the claim index in claim order and stop at the first ready
    # task, not fetch and sort the whole backlog (each claim would cost the backlog's size).
    from autodev.orchestrator.queue.claims import _CLAIM

    with connection() as conn:
        for number in range(1000):
            queue.submit(TaskSpec(task_type="analysis", prompt=f"task {number}"), conn=conn)
    with connection() as conn:
        row = conn.execute(
            "EXPLAIN (FORMAT JSON) " + _CLAIM, {"worker": "w", "lease": 60}
        ).fetchone()
    assert row is not None
    plan = str(row["QUERY PLAN"])
    assert "autonomous_tasks_claim_idx" in plan
    assert "'Node Type': 'Sort'" not in plan
    assert "Bitmap" not in plan


def test_a_lease_renewal_adds_no_index_entries(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Renewals come every few seconds for every running task: they change no indexed column,
    # so Postgres updates the row in place (a HOT update) instead of adding index entries.
    monkeypatch.setenv("DB_POOL_MAX_SIZE", "1")  # one backend: its statistics are flushed below
    from autodev.config import get_settings
    from autodev.db import close_pool

    close_pool()
    get_settings.cache_clear()
    _submit("renewed")
    task = queue.claim_next("w", 60)
    assert task is not None

    def updates() -> tuple[int, int]:
        with connection() as conn:
            conn.execute("SELECT pg_stat_force_next_flush()")
        with connection() as conn:
            row = conn.execute(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                " WHERE relname = 'autonomous_tasks'"
            ).fetchone()
        assert row is not None
        return int(row["n_tup_upd"]), int(row["n_tup_hot_upd"])

    updated, hot = updates()
    for _ in range(5):
        assert queue.renew_lease(task.id, "w", 60) is not None
    assert updates() == (updated + 5, hot + 5)
