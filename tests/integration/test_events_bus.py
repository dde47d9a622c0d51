"""Every spec event is seen on the bus with its documented shape.

moto's EventBridge in-process (mock_aws): a rule on the bus forwards autodev's events to an
SQS queue, and the test reads them back from there, as a consumer would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from autodev import callbacks, events, progress
from autodev.aws import client
from autodev.errors import InvalidInput
from autodev.progress import ManualClock

BUS = "autodev-test"


@pytest.fixture
def bus(database: str, fake_aws_env: pytest.MonkeyPatch) -> Iterator[str]:
    fake_aws_env.setenv("AUTODEV_EVENT_BUS", BUS)
    with mock_aws():
        eb, sqs = client("events"), client("sqs")
        eb.create_event_bus(Name=BUS)
        queue_url = sqs.create_queue(QueueName="autodev-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        eb.put_rule(Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": ["autodev"]}))
        eb.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
        yield queue_url


def _received(queue_url: str) -> list[dict[str, Any]]:
    sqs = client("sqs")
    seen: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        messages = answer.get("Messages", [])
        if not messages:
            return seen
        for message in messages:
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_each_spec_event_arrives_with_its_documented_shape(bus: str) -> None:
    clock = ManualClock()
    # progress:updated and progress:completed
    progress.start_tracking("task-p", "analysis", [{"name": "Only", "weight": 1}], clock=clock)
    clock.advance(10)
    progress.update_progress("task-p", 50, "halfway", {"tokens": 10}, clock=clock)
    progress.complete("task-p", clock=clock)
    # task:completed, task:failed, workflow:completed through the outbox
    callbacks.deliver_result(
        "task-ok", {"status": "succeeded", "workflow_id": "wf-e"}, target_kind="task"
    )
    callbacks.deliver_result("task-bad", {"error": "compile failed"}, target_kind="task")
    callbacks.deliver_result("wf-e", {"status": "succeeded", "template": "bug-fix"})
    report = callbacks.deliver_due()
    assert len(report.delivered) == 3
    # approval:requested and alert, as their components publish them
    events.publish(
        "approval:requested",
        {"workflow_id": "wf-e", "approval_id": "ap-1", "message": "Deploy to prod?"},
    )
    events.publish("alert", {"alert_type": "error_rate", "severity": "critical", "message": "x"})

    seen = _received(bus)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in seen:
        assert event["source"] == "autodev"
        by_type.setdefault(event["detail-type"], []).append(event["detail"])
    assert set(by_type) == events.EVENT_TYPES
    for detail_type, details in by_type.items():
        for detail in details:
            # The documented schema accepts exactly what arrived (extra fields are refused).
            events.SCHEMAS[detail_type].model_validate(detail)
            assert detail["event_id"]
    assert by_type["task:failed"][0]["error"] == "compile failed"
    assert by_type["task:completed"][0]["workflow_id"] == "wf-e"
    workflow = by_type["workflow:completed"][0]
    assert workflow["status"] == "succeeded"
    assert workflow["template"] == "bug-fix"
    assert workflow["event_id"] == callbacks.delivery_status("wf-e")[0].id
    completed = by_type["progress:completed"][0]
    assert completed["duration_seconds"] == pytest.approx(10.0)
    assert by_type["progress:updated"][-1]["metrics"]["tokens"] == 10


def test_progress_events_are_throttled(bus: str) -> None:
    clock = ManualClock()
    progress.start_tracking("task-t", "analysis", clock=clock)
    for i in range(100):
        clock.advance(0.1)  # 100 updates over 10 seconds
        progress.update_progress("task-t", i, clock=clock)
    updates = [e for e in _received(bus) if e["detail-type"] == "progress:updated"]
    # One at the start, then at most one per 5 s.
    assert 2 <= len(updates) <= 3


def test_a_detail_that_does_not_fit_is_refused_and_nothing_is_sent(bus: str) -> None:
    with pytest.raises(InvalidInput, match="severity"):
        events.publish("alert", {"alert_type": "x", "severity": "catastrophic", "message": "m"})
    with pytest.raises(InvalidInput, match="unknown event type"):
        events.publish("task:exploded", {})
    with pytest.raises(InvalidInput, match="bogus"):
        events.publish("alert", {"alert_type": "x", "severity": "info", "message": "m", "bogus": 1})
    assert _received(bus) == []


def test_alerts_publish_the_alert_event_when_they_open_and_when_they_clear(bus: str) -> None:
    from autodev.monitoring import alerts

    posted: list[str] = []

    def post(text: str, blocks: list[Any]) -> None:  # the alert channel, as text
        del blocks
        posted.append(text)

    condition = alerts.Condition(
        "queue_age",
        "queue_age",
        "warning",
        "The oldest queued task has waited 20m",
        "`/orchestrator`",
        {"oldest_queued_seconds": 1200.0},
    )
    opened = alerts.raise_alert(condition, notify=post)
    alerts.raise_alert(condition, notify=post)  # within the cooldown: neither posted nor sent
    alerts.resolve_alert("queue_age", notify=post)
    assert len(posted) == 2
    fired, cleared = [e["detail"] for e in _received(bus) if e["detail-type"] == "alert"]
    for detail in (fired, cleared):
        events.SCHEMAS["alert"].model_validate(detail)
        assert detail["fingerprint"] == "queue_age"
        assert detail["details"]["alert_id"] == opened.opened[0]
    assert (fired["severity"], fired["details"]["state"]) == ("warning", "firing")
    assert fired["details"]["oldest_queued_seconds"] == 1200.0
    assert fired["details"]["look_at"] == "`/orchestrator`"
    assert (cleared["severity"], cleared["details"]["state"]) == ("info", "resolved")
    assert cleared["message"] == "Resolved: The oldest queued task has waited 20m"
    assert fired["event_id"] != cleared["event_id"]
