"""A worker never waits on Slack, and the last progress state still reaches Slack.

Real Postgres, the real local Slack sink, the worker's loop with the echo runner. Another
sender holds the workflow's status message (as a process sending an edit does, for up to
``CLAIM_SECONDS`` if it died doing so): the worker runs its tasks one after the other all the
same, and once the message is free the final state goes out from the worker's background
sender (for a process that went away, the delivery sweep's ``flush_due`` sends it: see
test_progress_tracking).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from autodev import progress
from autodev.config import get_settings
from autodev.db import connection
from autodev.local.echo import EchoTaskRunner
from autodev.local.slack.sink import SlackSink
from autodev.local.testing import point_slack_at, wait_for
from autodev.orchestrator import queue
from autodev.orchestrator.queue import TaskSpec
from autodev.orchestrator.worker import Worker
from autodev.progress import slack_updates

OTHER_SENDER = "another-sender"


@pytest.fixture
def sink(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackSink]:
    monkeypatch.delenv("AUTODEV_EVENT_BUS", raising=False)
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "300")
    monkeypatch.setenv("ORCHESTRATOR_LEASE_SECONDS", "5")
    get_settings.cache_clear()
    with SlackSink() as running:
        yield point_slack_at(running, monkeypatch)


def _workflow(channel: str) -> str:
    workflow_id = str(uuid.uuid4())
    with connection() as conn:
        conn.execute(
            "INSERT INTO workflows (id, template, execution_name, requested_by) "
            "VALUES (%s, 'bug-fix', %s, 'U1')",
            (workflow_id, f"bug-fix-{workflow_id[:8]}"),
        )
    steps = [{"name": "first", "weight": 1}, {"name": "second", "weight": 1}]
    progress.start_tracking(workflow_id, "bug-fix", steps, kind="workflow", slack_channel=channel)
    return workflow_id


def _hold_claim(key: str) -> None:
    """Another sender claims the status message, as ``flush_due`` does, for the full lease."""
    with connection() as conn:
        conn.execute(
            "UPDATE slack_status_messages SET claimed_by = %s, claim_expires_at = %s"
            " WHERE key = %s",
            (OTHER_SENDER, datetime.now(UTC).timestamp() + slack_updates.CLAIM_SECONDS, key),
        )


def _release_claim(key: str) -> None:
    with connection() as conn:
        conn.execute(
            "UPDATE slack_status_messages SET claimed_by = NULL, claim_expires_at = NULL"
            " WHERE key = %s",
            (key,),
        )


def _claimed_by(key: str) -> str | None:
    with connection() as conn:
        row = conn.execute(
            "SELECT claimed_by FROM slack_status_messages WHERE key = %s", (key,)
        ).fetchone()
    assert row is not None
    return None if row["claimed_by"] is None else str(row["claimed_by"])


def _submit(workflow_id: str, step: str) -> str:
    return queue.submit_task(
        TaskSpec(
            task_type="analysis",
            prompt=f"run {step}",
            workflow_id=workflow_id,
            step_name=step,
            context={"echo": {"output": {"step": step}}},
        )
    )


def _final_text(sink: SlackSink, channel: str) -> str:
    messages = sink.messages(channel)
    return f"{messages[0]['text']} {messages[0]['blocks']}" if messages else ""


def test_a_worker_goes_on_to_the_next_task_while_slack_is_held(sink: SlackSink) -> None:
    workflow_id = _workflow("CWAIT")
    wait_for(lambda: bool(sink.messages("CWAIT")), timeout=10)  # the status card is posted
    _hold_claim(workflow_id)
    tasks = [_submit(workflow_id, "first"), _submit(workflow_id, "second")]

    worker = Worker(get_settings(), runner=EchoTaskRunner(), max_tasks=2)
    reason = worker.run()

    assert reason == "ran 2 task(s)"
    assert {queue.get_task_status(task).status for task in tasks} == {"succeeded"}
    # Both tasks ran, and the worker left, while the other sender still held the message: it
    # never waited for that claim (the old final flush waited until it lapsed).
    assert _claimed_by(workflow_id) == OTHER_SENDER
    assert "100%" not in _final_text(sink, "CWAIT")
    state = progress.get_progress(workflow_id)
    assert state is not None
    assert state.percent == pytest.approx(100.0)

    # The other sender lets go: the worker process's background sender sends the last state.
    _release_claim(workflow_id)
    wait_for(lambda: "100%" in _final_text(sink, "CWAIT"), timeout=15)
    row = slack_updates.message_state(workflow_id)
    assert row is not None
    assert row["sent_version"] == row["pending_version"]
