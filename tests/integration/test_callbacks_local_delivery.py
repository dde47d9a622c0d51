"""A workflow's result callbacks on the local stack: delivered once each, promptly, signed.

The workflow runs on moto's interpreter (a worker double answers its agent steps); its last
step (functions/workflow_finished) commits the outcome and kicks the delivery, while the
local stack's delivery loop sweeps at the same time. The kick invokes the deliver_results
function asynchronously, as in AWS. The webhook receiver is a real HTTP
server on loopback (allowed through WEBHOOK_ALLOWED_HOSTS) that verifies with svix.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from svix.webhooks import Webhook as SvixWebhook

from autodev import callbacks
from autodev.config import get_settings
from autodev.local.delivery import DeliveryLoop
from autodev.local.services import LocalService
from autodev.local.stack import LocalStack
from autodev.local.testing import WorkerDouble, wait_for
from autodev.slack import platform, views
from autodev.webhooks import new_secret
from autodev.workflows import StartRequest, get_workflow_status, start_workflow
from tests.integration.webhooks_receiver import Receiver


@pytest.fixture
def receiver(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    with Receiver() as running:
        yield running
    get_settings.cache_clear()


@pytest.fixture
def loop() -> DeliveryLoop:
    # The local stack's delivery service, sweeping more often than its default 2 s.
    return DeliveryLoop(interval=0.2)


@pytest.fixture
def stack(receiver: Receiver, loop: DeliveryLoop) -> Iterator[LocalStack]:
    service = LocalService(name="result-delivery", start=lambda _stack: loop.start())
    with LocalStack(poke_scaler=False, services=[service]) as running:
        double = WorkerDouble().start()
        try:
            yield running
        finally:
            double.stop()


def test_a_webhook_callback_is_delivered_once_signed_when_the_workflow_ends(
    stack: LocalStack, receiver: Receiver, loop: DeliveryLoop
) -> None:
    secret = new_secret()
    started = start_workflow(
        StartRequest(
            "code-review",
            {"target": "force-app/main/default/classes/AccountService.cls"},
            "U1",
            {"type": "webhook", "url": receiver.url, "secret": secret},
        )
    )
    wait_for(lambda: get_workflow_status(started.id).finished, what="the code review")
    assert get_workflow_status(started.id).status == "succeeded"

    [request] = wait_for(lambda: receiver.requests, what="the webhook")
    headers = {k.lower(): v for k, v in request.headers.items()}
    SvixWebhook(secret).verify(request.body, headers)  # raises unless correctly signed
    body = request.json
    assert body["type"] == "workflow.completed"
    assert body["data"]["target_id"] == started.id
    assert body["data"]["status"] == "succeeded"
    assert body["data"]["result"]["template"] == "code-review"

    # Recorded as sent once the receiver has answered, so a moment after it was received.
    [webhook] = wait_for(
        lambda: [
            d
            for d in callbacks.delivery_status(started.id)
            if d.channel == "webhook" and d.status == "delivered"
        ],
        what="the webhook's delivery recorded",
    )
    assert webhook.attempts == 1
    assert headers["webhook-id"] == webhook.id  # the stable id receivers deduplicate on

    # Sent once: the loop has swept again since, and another sweep here sends nothing more.
    swept = loop.sweeps
    wait_for(lambda: loop.sweeps >= swept + 2, what="two more delivery sweeps")
    assert callbacks.deliver_due().delivered == []
    assert len(receiver.requests) == 1
    assert callbacks.get_result(started.id).status == "succeeded"


def test_a_refused_target_is_dead_with_its_reason_in_the_status(
    stack: LocalStack, receiver: Receiver
) -> None:
    # "localhost" is not on the allow-list: it resolves to loopback and is refused before any
    # connection is made, which no retry can change.
    started = start_workflow(
        StartRequest(
            "code-review",
            {"target": "force-app/main/default/classes/AccountService.cls"},
            "U1",
            {"type": "webhook", "url": "https://localhost:9/hook"},
        )
    )
    wait_for(lambda: get_workflow_status(started.id).finished, what="the code review")

    def dead() -> callbacks.Delivery | None:
        found = callbacks.delivery_status(started.id)
        return next((d for d in found if d.channel == "webhook" and d.status == "dead"), None)

    delivery = wait_for(dead, what="the refused delivery to be given up")
    assert "loopback" in str(delivery.last_error)
    assert receiver.requests == []

    # What /workflow status shows in Slack: the delivery, dead, with the reason.
    card = views.status_card(platform.status(started.id))
    shown = " ".join(str(block.to_dict()) for block in card)
    assert "webhook → https://localhost:9/hook: dead (1/10 attempts) — gave up:" in shown
    assert "loopback" in shown


def test_the_kick_runs_the_delivery_function_in_the_background_as_in_aws(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No sweep during the test: only the kick of the workflow's last state can deliver.
    idle = DeliveryLoop(interval=3600)
    service = LocalService(name="result-delivery", start=lambda _stack: idle.start())
    sweeps: list[str] = []
    original = callbacks.delivery.deliver_due

    def deliver_due(*args: Any, **kwargs: Any) -> Any:
        sweeps.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(callbacks, "deliver_due", deliver_due)
    monkeypatch.setattr(callbacks.delivery, "deliver_due", deliver_due)
    with LocalStack(poke_scaler=False, services=[service]):
        assert os.environ["AUTODEV_DELIVERY_FUNCTION"] == "deliver_results"
        double = WorkerDouble().start()
        try:
            started = start_workflow(
                StartRequest(
                    "code-review",
                    {"target": "force-app/main/default/classes/AccountService.cls"},
                    "U1",
                    {"type": "webhook", "url": receiver.url, "secret": new_secret()},
                )
            )
            wait_for(lambda: get_workflow_status(started.id).finished, what="the code review")
            wait_for(lambda: receiver.requests, what="the webhook")
        finally:
            double.stop()
    assert idle.sweeps == 0
    assert sweeps == ["lambda-deliver_results"]
