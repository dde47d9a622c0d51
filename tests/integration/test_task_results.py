"""Every task's result: the spec's task:completed / task:failed on the local stack's event bus
(read back through a rule and an SQS queue, as a consumer would), cached for polling by task
id, and delivered to the task's own callbacks.

The workflow run uses worker processes the scaler starts on the local stack (the echo runner
in place of Claude Code); the failing and cancelled tasks go through the same worker code
in-process and the rescuer's sweep.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from svix.webhooks import Webhook as SvixWebhook

from autodev import callbacks, events
from autodev.aws import client
from autodev.config import get_settings
from autodev.local import orchestrator
from autodev.local.echo import EchoTaskRunner
from autodev.local.lambdas import LambdaContext, load_module
from autodev.local.slack.gateway import proxy_event
from autodev.local.stack import EVENT_BUS, LocalStack
from autodev.local.testing import wait_for, wait_until_finished
from autodev.orchestrator import queue, task_results
from autodev.orchestrator.queue import TaskSpec
from autodev.orchestrator.rescuer import rescue_once
from autodev.orchestrator.worker import Worker
from autodev.webhooks.signing import new_secret
from autodev.workflows import StartRequest, start_workflow
from tests.conftest import ROOT
from tests.integration.webhooks_receiver import Receiver

TASK_EVENTS = ["task:completed", "task:failed"]


@pytest.fixture
def stack(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    monkeypatch.setenv("AUTODEV_WORKER_MODULE", "autodev.local.echo")
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "1500")
    monkeypatch.setenv("ORCHESTRATOR_MAX_INSTANCES", "3")
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    with LocalStack() as running:
        try:
            yield running
        finally:
            orchestrator.stop_local_workers()


@pytest.fixture
def task_events(stack: LocalStack) -> str:
    """An SQS queue that a rule on the local bus fills with autodev's task events."""
    sqs, bus = client("sqs"), client("events")
    url = sqs.create_queue(QueueName="task-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    pattern = {"source": ["autodev"], "detail-type": TASK_EVENTS}
    bus.put_rule(Name="task-events", EventBusName=EVENT_BUS, EventPattern=json.dumps(pattern))
    bus.put_targets(Rule="task-events", EventBusName=EVENT_BUS, Targets=[{"Id": "q", "Arn": arn}])
    return str(url)


def _drain(url: str) -> list[dict[str, Any]]:
    sqs = client("sqs")
    seen: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return seen
        for message in messages:
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


class Inbox:
    def __init__(self, url: str) -> None:
        self.url = url
        self.events: list[dict[str, Any]] = []

    def for_task(self, task_id: str) -> list[dict[str, Any]]:
        self.events += _drain(self.url)
        return [e for e in self.events if e["detail"]["task_id"] == task_id]


def _documented(event: dict[str, Any]) -> dict[str, Any]:
    """The detail, checked against its documented schema (docs/events.md)."""
    assert event["source"] == "autodev"
    assert event["detail-type"] in TASK_EVENTS
    schema = events.SCHEMAS[event["detail-type"]]
    schema.model_validate(event["detail"])
    assert set(event["detail"]) <= set(schema.model_fields)
    detail: dict[str, Any] = event["detail"]
    return detail


def test_a_workflow_s_tasks_publish_task_completed_and_their_results_are_served_by_task_id(
    task_events: str,
) -> None:
    inbox = Inbox(task_events)
    started = start_workflow(
        StartRequest(
            "code-review", {"target": "force-app/main/default/classes/AccountService.cls"}, "U1"
        )
    )
    status = wait_until_finished(started.id, timeout=120)
    assert status.status == "succeeded"
    tasks = queue.workflow_tasks(started.id)
    assert len(tasks) == 6  # Code Analyzer, three reviews in parallel, combine, report

    for task in tasks:
        [event] = wait_for(partial(inbox.for_task, task.id), what=f"task:completed of {task.id}")
        detail = _documented(event)
        assert event["detail-type"] == "task:completed"
        assert detail["workflow_id"] == started.id
        assert detail["step_name"] == task.step_name
        assert detail["task_type"] == task.task_type
        assert detail["result"]["summary"].startswith("[echo runner]")
        assert detail["result"]["task_id"] == task.id
        # The same result, polled by the task's id.
        cached = callbacks.get_result(task.id)
        assert isinstance(cached, callbacks.CachedResult)
        assert cached.id == detail["result_id"]
        assert cached.status == "succeeded"
        assert cached.result["output"] == detail["result"]
        assert cached.result["task_status"] == "succeeded"

    # GET /results/{task id}, through the results function as API Gateway calls it.
    handler = load_module(ROOT / "functions" / "results_api" / "handler.py").handler
    answer = handler(
        proxy_event(f"/results/{tasks[0].id}", b"", {}, "GET"),
        LambdaContext("results_api", "arn:aws:lambda:us-east-1:123456789012:function:r"),
    )
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["result"]["task_id"] == tasks[0].id


def test_a_failed_task_publishes_task_failed_and_fires_its_own_callback(
    task_events: str,
) -> None:
    inbox = Inbox(task_events)
    with Receiver() as receiver:
        bad = queue.submit_task(
            TaskSpec(
                task_type="analysis",
                prompt="compile the org",
                step_name="Compile",
                context={"echo": {"fail": "compile failed: AccountTrigger line 12"}},
                max_attempts=1,
            )
        )
        secret = new_secret()
        callbacks.register_callback(
            bad, {"type": "webhook", "url": receiver.url, "secret": secret}, target_kind="task"
        )
        Worker(get_settings(), runner=EchoTaskRunner(), worker_id="w-in", max_tasks=1).run()

        [event] = wait_for(lambda: inbox.for_task(bad), what="task:failed")
        detail = _documented(event)
        assert event["detail-type"] == "task:failed"
        assert detail["error"] == (
            "compile failed: AccountTrigger line 12 (gave up after 1 attempt)"
        )
        assert detail["attempts"] == 1
        assert detail["step_name"] == "Compile"
        # The task's own webhook, signed, with the same outcome.
        [request] = wait_for(lambda: receiver.requests, what="the task's webhook")
        SvixWebhook(secret).verify(request.body, {k.lower(): v for k, v in request.headers.items()})
        assert request.json["type"] == "task.failed"
        assert request.json["data"]["target_id"] == bad
        assert request.json["data"]["result"]["task_status"] == "dead"
    assert callbacks.get_result(bad).status == "failed"


def test_a_cancelled_task_is_published_by_the_rescuer_s_sweep_once(task_events: str) -> None:
    inbox = Inbox(task_events)
    waiting = queue.submit_task(TaskSpec(task_type="analysis", prompt="never run"))
    assert queue.cancel_task(waiting, "the workflow no longer waits for this step")
    report = rescue_once(scale=False, outbox_grace_seconds=0)
    assert report["results_published"] == [waiting]
    [event] = wait_for(lambda: inbox.for_task(waiting), what="the cancelled task's event")
    detail = _documented(event)
    assert event["detail-type"] == "task:failed"
    assert detail["error"] == "the workflow no longer waits for this step"
    assert callbacks.get_result(waiting).status == "cancelled"
    # Published once: later sweeps find nothing.
    assert task_results.publish_results() == []
    assert rescue_once(scale=False, outbox_grace_seconds=0)["results_published"] == []
    assert inbox.for_task(waiting) == [event]
