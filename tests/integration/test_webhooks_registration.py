"""A user registers a signed webhook: `autodev workflow start --webhook`, or the results API's
``POST /results/{id}/webhooks``; the result arrives signed with the secret shown once."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from svix.webhooks import Webhook as SvixWebhook
from typer.testing import CliRunner

from autodev import callbacks
from autodev.cli import app
from autodev.config import get_settings
from autodev.local.lambdas import load_module
from autodev.local.stack import LocalStack
from autodev.local.testing import WorkerDouble, wait_for, wait_until_finished
from autodev.webhooks import new_secret
from autodev.workflows import StartRequest, start_workflow
from tests.conftest import ROOT
from tests.integration.webhooks_receiver import Receiver


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    with Receiver() as running:
        yield running
    get_settings.cache_clear()


def _delivered(receiver: Receiver) -> Any:
    def arrived() -> Any:
        callbacks.deliver_due()
        return receiver.requests[0] if receiver.requests else None

    return wait_for(arrived, timeout=30, what="the signed result at the webhook")


def test_a_webhook_given_at_start_gets_the_result_signed_with_the_secret_shown_once(
    local_stack: LocalStack, worker_double: WorkerDouble, receiver: Receiver
) -> None:
    worker_double.start()
    url = receiver.url
    started = CliRunner().invoke(
        app,
        [
            "workflow",
            "start",
            "code-review",
            "--input",
            '{"target": "force-app"}',
            "--webhook",
            url,
        ],
    )
    assert started.exit_code == 0, started.output
    secret = re.search(r"secret:\s+(whsec_\S+) \(shown once", started.output)
    assert secret, started.output
    # Read from its own line: the output may also hold a log line of the local stack's
    # Lambdas, which run in this process and print while the command does.
    line = re.search(r"^started code-review workflow ([0-9a-f-]{36})$", started.output, re.M)
    assert line, started.output
    workflow_id = line.group(1)
    assert wait_until_finished(workflow_id).status == "succeeded"

    request = _delivered(receiver)
    assert request.path == "/hooks/autodev"
    SvixWebhook(secret.group(1)).verify(request.body, request.headers)  # a real signature
    assert request.json["data"]["target_id"] == workflow_id
    # Given, the secret is not printed back.
    mine = new_secret()
    again = CliRunner().invoke(
        app,
        [
            "workflow",
            "start",
            "code-review",
            "--input",
            '{"target": "force-app"}',
            "--webhook",
            url,
            "--webhook-secret",
            mine,
        ],
    )
    assert again.exit_code == 0, again.output
    assert mine not in again.output
    assert "secret:" not in again.output


def _post(workflow: str, body: Any) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    event = {
        "resource": "/results/{id}/webhooks",
        "path": f"/results/{workflow}/webhooks",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"id": workflow},
        "requestContext": {"httpMethod": "POST", "path": f"/results/{workflow}/webhooks"},
        "body": text,
        "isBase64Encoded": False,
    }
    handler = load_module(ROOT / "functions" / "results_api" / "handler.py").handler
    answer: dict[str, Any] = handler(event, None)
    return answer


def test_the_results_api_registers_a_webhook_for_a_running_workflow(
    local_stack: LocalStack, worker_double: WorkerDouble, receiver: Receiver
) -> None:
    started = start_workflow(StartRequest("code-review", {"target": "force-app"}, "cli:alice"))
    short = started.execution_name  # any workflow reference will do
    refused = _post(short, {"url": "http://example.com/hook"})
    assert refused["statusCode"] == 400
    assert "https" in json.loads(refused["body"])["message"]
    assert _post(short, "not json")["statusCode"] == 400
    assert _post("no-such-workflow-1", {"url": receiver.url})["statusCode"] == 404

    answer = _post(short, {"url": receiver.url})
    assert answer["statusCode"] == 201, answer
    registered = json.loads(answer["body"])
    assert registered["workflow_id"] == started.id
    assert registered["secret"].startswith("whsec_")
    assert "24 to 64 random bytes in base64" in registered["secret_format"]

    worker_double.start()
    assert wait_until_finished(started.id).status == "succeeded"
    request = _delivered(receiver)
    SvixWebhook(registered["secret"]).verify(request.body, request.headers)
    late = _post(started.id, {"url": receiver.url})
    assert late["statusCode"] == 400
    assert "has already finished (succeeded)" in json.loads(late["body"])["message"]
