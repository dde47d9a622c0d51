"""Every handler's log lines, the worker's, and the operator's metrics, on a real Postgres.

Each handler runs as Lambda runs it (a Lambda context, ``AWS_LAMBDA_FUNCTION_NAME`` set) and
what it writes is captured: every stderr line must be JSON carrying the invocation's request
id and the correlation id the event gives (or the request id when it gives none); stdout
carries only embedded-metric documents.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest

from autodev import callbacks, runtime
from autodev.aws import reset_clients
from autodev.config import get_settings
from autodev.db import connection
from autodev.errors import InvalidInput
from autodev.orchestrator import queue
from autodev.orchestrator.claude_task import ClaudeCodeTaskRunner
from autodev.orchestrator.queue import TaskSpec
from autodev.orchestrator.worker import Worker
from infra.discovery import handler_folders
from tests.conftest import ROOT
from tests.integration.webhooks_receiver import Receiver

SECRET = "observability-test-secret"


@dataclass
class FakeContext:
    function_name: str
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:autodev-test"
    aws_request_id: str = field(default_factory=lambda: f"req-{uuid.uuid4()}")


def _load(folder: str) -> ModuleType:
    """The handler, loaded as outside AWS: in Lambda its cold start would insist on settings
    (an event bus, ECS, ...) that would make these invocations reach AWS, and that check has
    its own tests (tests/unit/test_runtime_required_settings.py). It runs as in Lambda."""
    path = ROOT / "functions" / folder / "handler.py"
    spec = importlib.util.spec_from_file_location(f"observed_handler_{folder}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    marker = os.environ.pop(runtime.LAMBDA_MARKER, None)
    try:
        spec.loader.exec_module(module)
    finally:
        if marker is not None:
            os.environ[runtime.LAMBDA_MARKER] = marker
    return module


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _forged_slack_request(path: str, request_id: str) -> dict[str, Any]:
    return {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": {
            "X-Slack-Request-Timestamp": str(int(time.time())),
            "X-Slack-Signature": "v0=" + "0" * 64,
            "Content-Type": "application/x-www-form-urlencoded",
        },
        "body": "command=%2Fworkflow&text=list&user_id=U1",
        "isBase64Encoded": False,
        "requestContext": {"requestId": request_id, "identity": {"sourceIp": "192.0.2.1"}},
    }


def _workflow(budget_usd: float | None = None) -> str:
    workflow_id = str(uuid.uuid4())
    with connection() as conn:
        conn.execute(
            "INSERT INTO workflows (id, template, execution_name, requested_by, budget_usd) "
            "VALUES (%s, 'bug-fix', %s, 'U1', %s)",
            (workflow_id, f"bug-fix-{workflow_id[:8]}", budget_usd),
        )
    return workflow_id


@pytest.fixture
def lambda_env(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "autodev-test")
    # An AWS call (the health checks make one) fails at once on loopback: nothing leaves.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    reset_clients()
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.delenv("AUTODEV_EVENT_BUS", raising=False)
    monkeypatch.delenv("AUTODEV_SCALER_FUNCTION", raising=False)
    # In Lambda the scaler and the rescuer would count ECS tasks; these count local workers.
    monkeypatch.setenv("AUTODEV_WORKER_LAUNCHER", "local")
    get_settings.cache_clear()
    yield database
    reset_clients()  # the next test's clients follow its own endpoint


def _invocations(workflow_id: str) -> dict[str, tuple[dict[str, Any], str | None]]:
    """Per handler: an event, and the correlation id it carries (None: the request id)."""
    results_id = str(uuid.uuid4())
    return {
        # First, while nothing is queued: neither starts a worker process.
        "scaler": ({"reason": "task queued", "correlation_id": workflow_id}, workflow_id),
        "rescuer": ({"source": "autodev.schedule"}, None),
        "slack_commands": (_forged_slack_request("/slack/commands", "api-cmd"), "api-cmd"),
        "slack_interactions": (
            _forged_slack_request("/slack/interactions", "api-click"),
            "api-click",
        ),
        "slack_events": (_forged_slack_request("/slack/events", "api-event"), "api-event"),
        "results_api": (
            {
                "resource": "/results/{id}",
                "path": f"/results/{results_id}",
                "httpMethod": "GET",
                "headers": {},
                "pathParameters": {"id": results_id},
                "requestContext": {"requestId": "api-results", "httpMethod": "GET"},
                "body": None,
                "isBase64Encoded": False,
            },
            "api-results",
        ),
        # An execution started outside autodev, registered on first sight.
        "workflow_started": (
            {
                "template": "bug-fix",
                "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:x:nightly-1",
                "execution_name": "nightly-1",
                "execution_input": {"description": "NPE"},
            },
            "nightly-1",
        ),
        "enqueue_task": (
            {
                "task_token": "token-1",
                "workflow_id": workflow_id,
                "template": "bug-fix",
                "step": "reproduce",
                "state": "Reproduce the bug",
                "timeout_seconds": 600,
                "context": {"input": {"component": "AccountTrigger"}},
            },
            workflow_id,
        ),
        # Payloads the functions refuse: the error is logged with both ids, then raised.
        "request_approval": ({"workflow_id": workflow_id}, workflow_id),
        "workflow_finished": ({"workflow_id": workflow_id, "status": "exploded"}, workflow_id),
        "slack_worker": ({"correlation_id": "from-slack-handler"}, "from-slack-handler"),
        "deliver_results": (
            {"correlation_id": "from-workflow-finished", "delivery_ids": "all"},
            "from-workflow-finished",
        ),
        "health": (
            {
                "resource": "/health",
                "path": "/health",
                "httpMethod": "GET",
                "headers": {},
                "requestContext": {"requestId": "api-health", "httpMethod": "GET"},
                "body": None,
                "isBase64Encoded": False,
            },
            "api-health",
        ),
        # An alarm back to OK that no alert is open for: nothing to post.
        "alerts": (
            {
                "Records": [
                    {
                        "EventSource": "aws:sns",
                        "EventVersion": "1.0",
                        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:a:1",
                        "Sns": {
                            "Type": "Notification",
                            "MessageId": "00000000-0000-4000-8000-000000000001",
                            "TopicArn": "arn:aws:sns:us-east-1:123456789012:a",
                            "Message": json.dumps(
                                {"AlarmName": "autodev-dev-api-5xx", "NewStateValue": "OK"}
                            ),
                            "Timestamp": "2025-01-01T12:00:00.000Z",
                            "SignatureVersion": "1",
                            "Signature": "c2ln",
                            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/c.pem",
                            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/u",
                            "MessageAttributes": {},
                        },
                    }
                ]
            },
            None,
        ),
        "retention": ({"correlation_id": "tick-retention"}, "tick-retention"),
        # A schedule removed after it fired: nothing to run.
        "scheduled_run": (
            {
                "scheduled_job_id": results_id,
                "scheduled_time": "2025-01-01T09:00:00Z",
                "template": "bug-fix",
                "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:m:e",
                "execution_name": "e",
            },
            results_id,
        ),
    }


def test_every_handlers_lines_are_json_with_the_request_and_correlation_ids(
    lambda_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    invocations = _invocations(_workflow())
    assert sorted(invocations) == sorted(handler_folders()), "add the new handler here"
    for folder, (event, correlation) in invocations.items():
        module = _load(folder)
        context = FakeContext(function_name=f"autodev-dev-{folder}")
        capsys.readouterr()
        try:
            answer = module.handler(event, context)
        except InvalidInput:
            assert folder in {"request_approval", "workflow_finished", "slack_worker"}, folder
        else:
            if folder in ("scaler", "rescuer"):
                assert (answer.get("scale") or answer)["launched"] == 0
        captured = capsys.readouterr()
        logged = _json_lines(captured.err)
        assert logged, f"{folder} wrote no log line for this event"
        for line in logged:
            assert line["function_request_id"] == context.aws_request_id, (folder, line)
            assert line["correlation_id"] == (correlation or context.aws_request_id), (folder, line)
            assert line["function_name"] == context.function_name
            assert line["service"] == "autodev"
        for document in _json_lines(captured.out):
            assert "_aws" in document, f"{folder} wrote something else than metrics on stdout"


def test_refused_slack_requests_are_counted_by_reason(
    lambda_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = _load("slack_commands").handler
    capsys.readouterr()
    forged = _forged_slack_request("/slack/commands", "api-1")
    unsigned = {**forged, "headers": {}}
    assert handler(forged, FakeContext("f"))["statusCode"] == 401
    assert handler(unsigned, FakeContext("f"))["statusCode"] == 401
    documents = _json_lines(capsys.readouterr().out)
    assert [(d["reason"], d["SlackRequestsRefused"]) for d in documents] == [
        ("forged", [1.0]),
        ("unsigned", [1.0]),
    ]


def test_a_task_dead_in_the_rescuers_hands_is_counted(
    lambda_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    task_id = queue.submit_task(TaskSpec(task_type="analysis", prompt="hi", max_attempts=1))
    assert queue.claim_next("worker-that-dies", 30) is not None
    with connection() as conn:
        conn.execute(
            "UPDATE autonomous_tasks SET lease_expires_at = now() - interval '1 minute' "
            "WHERE id = %s",
            (task_id,),
        )
    capsys.readouterr()
    report = _load("rescuer").handler({"correlation_id": "tick-1"}, FakeContext("rescuer"))
    assert report["dead"] == [task_id]
    captured = capsys.readouterr()
    (dead,) = [d for d in _json_lines(captured.out) if "TasksDead" in d]
    assert dead["TasksDead"] == [1.0]
    warning = next(line for line in _json_lines(captured.err) if "is dead" in line["message"])
    assert warning["correlation_id"] == "tick-1"


def test_a_dead_delivery_is_counted_by_channel(
    lambda_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    with Receiver() as receiver:
        callbacks.register_callback("wf-obs", {"type": "webhook", "url": receiver.url})
        monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "")  # refused at delivery: dead at once
        get_settings.cache_clear()
        callbacks.deliver_result("wf-obs", {"status": "succeeded"})
        capsys.readouterr()
        report = _load("deliver_results").handler({}, FakeContext("deliver_results"))
    assert len(report["dead"]) == 1
    (dead,) = [d for d in _json_lines(capsys.readouterr().out) if "DeliveriesDead" in d]
    assert (dead["channel"], dead["DeliveriesDead"]) == ("webhook", [1.0])


# --- the worker (an ECS task) ---


def test_the_workers_lines_name_the_task_workflow_and_step_and_a_budget_stop_is_counted(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", "http://169.254.170.2/v4/test")
    monkeypatch.setenv("AUTODEV_MODEL_PROVIDER", "scripted")
    # Never asked: the workflow's budget stops the step before Claude Code starts.
    monkeypatch.setenv("AUTODEV_SCRIPTED_MODEL_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "200")
    get_settings.cache_clear()
    workflow_id = _workflow(budget_usd=0.5)
    spent = queue.submit_task(TaskSpec(task_type="fix", prompt="earlier", workflow_id=workflow_id))
    with connection() as conn:
        conn.execute(
            "UPDATE autonomous_tasks SET status = 'succeeded', cost_usd = 0.5, "
            "finished_at = now() WHERE id = %s",
            (spent,),
        )
    task_id = queue.submit_task(
        TaskSpec(task_type="fix", prompt="next step", workflow_id=workflow_id, step_name="fix")
    )
    settings = get_settings()
    worker = Worker(settings, runner=ClaudeCodeTaskRunner(settings, "w-obs"), worker_id="w-obs")
    capsys.readouterr()
    worker.run()
    captured = capsys.readouterr()
    logged = _json_lines(captured.err)
    during = [line for line in logged if line.get("task_id") == task_id]
    assert during, "no line named the task"
    for line in during:
        assert (line["workflow_id"], line["step"], line["worker_id"]) == (
            workflow_id,
            "fix",
            "w-obs",
        )
    messages = [line["message"] for line in during]
    assert messages[0] == "task started"
    assert any("failed" in message for message in messages)
    assert messages[-1] == "task finished"
    exit_line = next(line for line in logged if "exits" in line["message"])
    assert "task_id" not in exit_line  # the task's keys went with the task
    (stop,) = [d for d in _json_lines(captured.out) if "BudgetStops" in d]
    assert (stop["budget"], stop["BudgetStops"]) == ("workflow", [1.0])
