"""``/monitor`` and ``/orchestrator`` sent as Slack sends them, answered with Block Kit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from autodev.local.slack.sender import SlackSender
from autodev.local.slack.sink import RecordedCall, SlackSink
from autodev.local.stack import LocalStack
from autodev.local.testing import wait_for
from autodev.monitoring import register_health_check, unregister_health_check
from autodev.orchestrator import queue, registry
from autodev.orchestrator.queue import TaskSpec
from tests.integration.finished_tasks import finish_task

SECRET = "test-signing-secret-dashboards-0123"
WORKER = "host-77-slack"


@pytest.fixture
def slack_sink_env(slack_sink: SlackSink, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackSink]:
    """Signed requests straight into the handler, which hands its job to the Slack worker
    through the local stack (moto); Slack calls recorded by the sink."""
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    with LocalStack(poke_scaler=False):
        yield slack_sink


def _ask(sink: SlackSink, command: str) -> RecordedCall:
    sender = SlackSender(SECRET, response_url_base=sink.url)
    answer, key = sender.command(command)
    assert answer.status == 200
    reply: RecordedCall = wait_for(
        lambda: next((c for c in sink.calls("response_url") if c.key == key), None),
        timeout=30,
        what=f"the answer to {command}",
    )
    return reply


def _run(ok: bool, *, step: str, cost: float = 0.0) -> str:
    return finish_task(
        "succeeded" if ok else "dead",
        worker=WORKER,
        step_name=step,
        task_type="fix",
        model="claude-sonnet-4-5" if cost else None,
        tokens=(1000, 100),
        cost=cost,
        error="sf: the org refused\nthe connection",
    )


def test_orchestrator_shows_workers_queue_and_failures(
    database: str, slack_sink_env: SlackSink
) -> None:
    dead = _run(False, step="Verify the fix")
    busy = queue.submit_task(TaskSpec(task_type="fix", prompt="p", step_name="Implement"))
    assert queue.claim_next(WORKER, 60) is not None
    registry.register(WORKER, "local")
    registry.seen(WORKER, busy)
    queue.submit_task(TaskSpec(task_type="fix", prompt="p", priority="high"))

    reply = _ask(slack_sink_env, "/orchestrator")
    text = reply.block_text()
    assert reply.args["text"] == "Orchestrator: 1 workers, 1 running, 1 queued"
    assert "workers: 1 live of at most 5" in text
    assert "queued: 1 (critical 0, high 1, normal 0, low 0)" in text
    assert f"`{WORKER}` busy — *Implement* for " in text
    assert f"`{dead[:8]}` Verify the fix — dead after 1 attempt(s)" in text
    assert "the org refused the connection" in text  # one line, as a person reads it
    assert "None" not in text
    assert reply.args["blocks"][0]["type"] == "header"


def test_monitor_shows_the_dashboard(database: str, slack_sink_env: SlackSink) -> None:
    _run(True, step="Analyse", cost=0.5)
    _run(False, step="Fix", cost=0.25)

    def disk() -> bool:
        raise RuntimeError("disk full")

    register_health_check("disk", disk)
    try:
        reply = _ask(slack_sink_env, "/monitor")
    finally:
        unregister_health_check("disk")
    text = reply.block_text()
    assert "Monitoring — last 24h" in text
    assert "Error rate *50.0%* is above the 10.0% threshold (1 of 2 tasks)" in text
    # These tasks ran on the scripted model: its figures are labelled as such.
    assert "claude-sonnet-4-5 (scripted): 2 tasks, 2,200 tokens, $0.7500" in text
    assert "nothing was billed" in text
    assert ":white_check_mark: database" in text
    assert ":x: disk" in text
    assert "RuntimeError: disk full" in text
    assert "*Open alerts*: none" in text
    assert reply.args["text"] == (
        "Monitoring, last 24h: error rate 50.0% — above the threshold, $0.75 (scripted),"
        " a health check is failing"
    )


def test_with_the_database_down_monitor_shows_the_health_and_orchestrator_one_polite_line(
    slack_sink_env: SlackSink, absent_database: Path
) -> None:
    monitor = _ask(slack_sink_env, "/monitor")
    assert monitor.args["text"].startswith("Monitoring: no figures (the database is")
    assert ":x: database" in monitor.block_text()
    assert "No figures: the database is unavailable" in monitor.block_text()
    reply = _ask(slack_sink_env, "/orchestrator")
    assert reply.args["text"].startswith(":warning: the database is unavailable")
    assert "\n" not in reply.args["text"]
    assert not reply.args.get("blocks")
