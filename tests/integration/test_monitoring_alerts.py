"""Alerts on real Postgres, posted to a real Slack sink over HTTP, with a controllable clock.

The evaluator sees the tasks the orchestrator's own queue API ended; every post goes through
the Slack client to the sink's ``ALERT_CHANNEL``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from autodev.config import get_settings
from autodev.db import connection
from autodev.local.slack.sink import RecordedCall, SlackSink
from autodev.monitoring import alerts
from autodev.orchestrator import queue
from autodev.orchestrator.queue import TaskSpec
from tests.integration.finished_tasks import finish_task

CHANNEL = "#ops-alerts"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def alerting(database: str, slack_sink: SlackSink, monkeypatch: pytest.MonkeyPatch) -> SlackSink:
    monkeypatch.setenv("ALERT_CHANNEL", CHANNEL)
    monkeypatch.setenv("ALERT_COOLDOWN", str(10 * 60 * 1000))  # 10 minutes
    monkeypatch.setenv("ALERT_ERROR_RATE_THRESHOLD", "0.25")
    monkeypatch.setenv("ALERT_ERROR_RATE_MIN_TASKS", "4")
    get_settings.cache_clear()
    return slack_sink


def _posts(sink: SlackSink) -> list[RecordedCall]:
    return [c for c in sink.calls("chat.postMessage") if c.channel == CHANNEL]


def _alert_rows() -> list[dict[str, object]]:
    with connection() as conn:
        rows = conn.execute(
            "SELECT fingerprint, status, notified_count, severity, source FROM monitoring_alerts"
            " ORDER BY id"
        ).fetchall()
    return [dict(row) for row in rows]


def test_an_error_rate_alert_is_posted_once_per_cooldown_and_resolved(alerting: SlackSink) -> None:
    clock = Clock()
    for outcome in ("succeeded", "succeeded", "failed", "dead"):  # 2 of 4 failed: 50%
        finish_task(outcome, worker="w-1", error="NullPointerException in AccountTrigger")

    first = alerts.evaluate(clock=clock)
    assert len(first.opened) == 2  # the error rate, and the dead task on its own
    [post] = [p for p in _posts(alerting) if "error rate" in p.text]
    assert "Task error rate is *50%*" in post.block_text()
    assert "above the 25% threshold" in post.block_text()
    assert "Look at:" in post.block_text()
    assert "/orchestrator" in post.block_text()
    assert len(_posts(alerting)) == 2
    assert [r["fingerprint"] for r in _alert_rows()] == ["error_rate", "tasks_dead"]

    # Within the cooldown: nothing is posted again, however often it is evaluated.
    for _ in range(3):
        clock.advance(minutes=3)
        assert alerts.evaluate(clock=clock).opened == []
    assert len(_posts(alerting)) == 2

    # Once the cooldown has passed, one reminder each.
    clock.advance(minutes=1, seconds=1)
    again = alerts.evaluate(clock=clock)
    assert len(again.repeated) == 2
    reminders = _posts(alerting)[2:]
    assert len(reminders) == 2
    assert all("still open, reminder 1" in r.text for r in reminders)
    clock.advance(minutes=1)
    assert alerts.evaluate(clock=clock).repeated == []

    # The rate falls below the threshold: the error-rate alert is resolved, once.
    for _ in range(6):
        finish_task("succeeded", worker="w-1")  # 2 of 10 failed: 20%
    clock.advance(seconds=30)
    cleared = alerts.evaluate(clock=clock)
    assert len(cleared.resolved) == 1
    [resolution] = [p for p in _posts(alerting) if "Resolved" in p.text]
    assert "Task error rate is *50%*" in resolution.text
    rows = {r["fingerprint"]: r for r in _alert_rows()}
    assert rows["error_rate"]["status"] == "resolved"
    assert rows["error_rate"]["notified_count"] == 2
    assert rows["tasks_dead"]["status"] == "open"  # still within its window
    posted = len(_posts(alerting))
    clock.advance(minutes=2)
    alerts.evaluate(clock=clock)
    assert len(_posts(alerting)) == posted  # resolved once; the dead task still cooling down

    # A new rise is a new alert, posted at once.
    for _ in range(8):
        finish_task("failed", worker="w-1")
    clock.advance(seconds=30)
    assert len(alerts.evaluate(clock=clock).opened) == 1
    assert "Task error rate is *56%* over the last 1h 00m (10 of 18" in _posts(alerting)[-1].text


def test_a_failed_post_is_tried_again_on_the_next_pass(alerting: SlackSink) -> None:
    clock = Clock()
    for outcome in ("failed", "failed", "failed", "failed"):
        finish_task(outcome, worker="w-2")
    alerting.fail_next(10, status=500, method="chat.postMessage")
    report = alerts.evaluate(clock=clock)
    assert report.opened
    assert report.unposted == report.opened
    assert _alert_rows()[0]["notified_count"] == 0
    alerting.clear()
    clock.advance(seconds=15)
    assert alerts.evaluate(clock=clock).unposted == []
    assert len(_posts(alerting)) == 1  # posted now, although within the cooldown


def test_queue_age_dead_tasks_and_budget_stops_are_alerts(
    alerting: SlackSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERT_QUEUE_AGE", "60000")  # a minute
    get_settings.cache_clear()
    stopped = finish_task("succeeded", worker="w-3")
    with connection() as conn:  # as the worker records a task its budget stopped
        conn.execute(
            "UPDATE autonomous_tasks SET status = 'failed', error_code = %s,"
            " last_error = 'the task reached its budget of $0.50' WHERE id = %s",
            (queue.ERROR_BUDGET, stopped),
        )
    dead = finish_task("dead", worker="w-3", step_name="Verify the fix", error="flaky org")
    waiting = queue.submit_task(TaskSpec(task_type="analysis", prompt="waits"))
    with connection() as conn:
        conn.execute(
            "UPDATE autonomous_tasks SET created_at = now() - interval '5 minutes' WHERE id = %s",
            (waiting,),
        )
    found = {c.fingerprint: c for c in alerts.conditions(datetime.now(UTC))}
    assert set(found) == {"queue_age", "budget", "tasks_dead"}
    assert "The oldest queued task has waited 5m" in found["queue_age"].message
    assert "stopped at their budget" in found["budget"].message
    assert f"`{dead[:8]}` Verify the fix (flaky org" in found["tasks_dead"].message
    assert found["tasks_dead"].details == {"task_ids": [dead]}


def _alarm_event(state: str, name: str = "autodev-dev-tasks-dead") -> dict[str, object]:
    message = {
        "AlarmName": name,
        "AlarmDescription": "autodev tasks-dead",
        "NewStateValue": state,
        "NewStateReason": "Threshold Crossed: 1 datapoint [2.0] >= 1.0",
        "StateChangeTime": "2025-01-01T12:00:00.000+0000",
        "Region": "EU (Ireland)",
        "Trigger": {"MetricName": "TasksDead", "Namespace": "autodev"},
    }
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:eu-west-1:123456789012:autodev-dev-alarms:1",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "5c3a5d7e-0000-4000-8000-000000000001",
                    "TopicArn": "arn:aws:sns:eu-west-1:123456789012:autodev-dev-alarms",
                    "Subject": f"{state}: {name}",
                    "Message": json.dumps(message),
                    "Timestamp": "2025-01-01T12:00:00.000Z",
                    "SignatureVersion": "1",
                    "Signature": "c2lnbmF0dXJl",
                    "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/cert.pem",
                    "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/unsubscribe",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def test_cloudwatch_alarms_through_sns_are_posted_and_resolved_by_the_alerts_function(
    alerting: SlackSink,
) -> None:
    from autodev.local.lambdas import LambdaContext, load_module
    from tests.conftest import ROOT

    handler = load_module(ROOT / "functions" / "alerts" / "handler.py").handler

    def context() -> LambdaContext:
        return LambdaContext("alerts", "arn:aws:lambda:eu-west-1:123456789012:function:alerts")

    handler(_alarm_event("ALARM"), context())
    handler(_alarm_event("ALARM"), context())  # SNS delivers at least once: within cooldown
    [post] = _posts(alerting)
    assert "CloudWatch alarm *autodev-dev-tasks-dead* (EU (Ireland))" in post.text
    assert "Threshold Crossed" in post.text
    # The evaluator sees nothing wrong, and leaves the alarm's alert alone.
    alerts.evaluate()
    assert [(r["source"], r["status"]) for r in _alert_rows()] == [("cloudwatch", "open")]
    handler(_alarm_event("INSUFFICIENT_DATA"), context())
    assert len(_posts(alerting)) == 1
    handler(_alarm_event("OK"), context())
    assert "Resolved" in _posts(alerting)[-1].text
    assert [r["status"] for r in _alert_rows()] == ["resolved"]


def test_something_else_on_the_alarm_topic_is_refused(alerting: SlackSink) -> None:
    from autodev.errors import InvalidInput

    with pytest.raises(InvalidInput, match="not a CloudWatch alarm notification"):
        alerts.parse_alarm(json.dumps({"hello": "world"}))
    assert _alert_rows() == []
