"""Signed webhooks to a real receiver on loopback, verified with the svix package."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from svix.webhooks import Webhook as SvixWebhook

from autodev import callbacks
from autodev.config import get_settings
from autodev.webhooks import WebhookRefused, new_secret, send
from tests.integration.webhooks_receiver import Receiver


@pytest.fixture
def receiver(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.delenv("AUTODEV_EVENT_BUS", raising=False)
    get_settings.cache_clear()
    with Receiver() as running:
        yield running


def _independent_check(secret: str, headers: dict[str, str], body: str) -> bool:
    # The scheme by hand, as a receiver in another language would do it.
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        part.split(",", 1)[1] == expected for part in headers["webhook-signature"].split(" ")
    )


def test_the_receiver_verifies_the_signature_with_svix(receiver: Receiver) -> None:
    secret = new_secret()
    answer = send(receiver.url, {"type": "ping"}, secret=secret, msg_id="msg_ping_1")
    assert answer.ok
    (request,) = receiver.requests
    headers = {k.lower(): v for k, v in request.headers.items()}
    SvixWebhook(secret).verify(request.body, headers)  # raises if the signature is wrong
    assert _independent_check(secret, headers, request.body)
    assert headers["webhook-id"] == "msg_ping_1"
    assert request.json == {"type": "ping"}
    with pytest.raises(Exception, match="signature"):
        SvixWebhook(new_secret()).verify(request.body, headers)


def test_a_failing_receiver_gets_the_result_again_with_the_same_id(receiver: Receiver) -> None:
    secret = new_secret()
    callbacks.register_callback(
        "wf-hook", {"type": "webhook", "url": receiver.url, "secret": secret}
    )
    result_id = callbacks.deliver_result(
        "wf-hook", {"status": "succeeded", "summary": "fixed", "template": "bug-fix"}
    )
    receiver.fail_next = 2
    now = datetime.now(UTC)
    first = callbacks.deliver_due(now=now)
    assert first.retrying
    assert not first.delivered
    (status,) = callbacks.delivery_status("wf-hook")
    assert status.status == "pending"
    assert "receiver answered 500" in (status.last_error or "")
    # Not due yet: nothing is sent before the backoff has passed.
    assert callbacks.deliver_due(now=now + timedelta(seconds=5)).retrying == []
    assert len(receiver.requests) == 1
    second = callbacks.deliver_due(now=now + timedelta(seconds=40))
    assert second.retrying
    third = callbacks.deliver_due(now=now + timedelta(minutes=10))
    assert third.delivered
    assert callbacks.deliver_due(now=now + timedelta(hours=1)).delivered == []
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    bodies = {r.body for r in receiver.requests}
    assert len(receiver.requests) == 3
    assert len(ids) == 1  # the same id every time: the receiver can deduplicate
    assert len(bodies) == 1
    for request in receiver.requests:
        SvixWebhook(secret).verify(request.body, request.headers)
    body = receiver.requests[-1].json
    assert body["type"] == "workflow.completed"
    assert body["data"]["result_id"] == result_id
    assert body["data"]["result"]["summary"] == "fixed"
    (status,) = callbacks.delivery_status("wf-hook")
    assert status.status == "delivered"
    assert status.attempts == 3


def test_writing_the_same_result_twice_delivers_it_once(receiver: Receiver) -> None:
    callbacks.register_callback("wf-twice", {"type": "webhook", "url": receiver.url})
    first = callbacks.deliver_result("wf-twice", {"status": "succeeded", "summary": "x"})
    again = callbacks.deliver_result("wf-twice", {"status": "succeeded", "summary": "x"})
    assert first == again
    callbacks.deliver_due()
    assert len(receiver.requests) == 1


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.redirect_to = "http://169.254.169.254/latest/meta-data/"
    answer = send(receiver.url, {"type": "ping"}, secret=new_secret(), msg_id="m1")
    assert answer.status == 307
    assert not answer.ok
    assert len(receiver.requests) == 1


def test_a_dead_delivery_keeps_its_reason(receiver: Receiver) -> None:
    receiver.fail_next = 100
    callbacks.register_callback("wf-dead", {"type": "webhook", "url": receiver.url})
    callbacks.deliver_result("wf-dead", {"status": "failed", "error": "boom"})
    now = datetime.now(UTC)
    for hours in range(0, 30):
        callbacks.deliver_due(now=now + timedelta(hours=hours))
    (status,) = callbacks.delivery_status("wf-dead")
    assert status.status == "dead"
    assert status.attempts == 10
    assert "receiver answered 500" in (status.last_error or "")
    assert "gave up after 10 attempts" in (status.last_error or "")
    assert status.destination == receiver.url  # no secret, no query string


def test_a_target_refused_at_delivery_is_dead_at_once(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    callbacks.register_callback("wf-ref", {"type": "webhook", "url": receiver.url})
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "")  # the allow-list no longer names it
    get_settings.cache_clear()
    callbacks.deliver_result("wf-ref", {"status": "succeeded"})
    callbacks.deliver_due()
    (status,) = callbacks.delivery_status("wf-ref")
    assert status.status == "dead"
    assert "refused" in (status.last_error or "")
    assert receiver.requests == []
    with pytest.raises(WebhookRefused):
        send(receiver.url, {}, secret=new_secret(), msg_id="m")


def test_the_connection_goes_to_the_checked_address_with_the_name_in_host(
    receiver: Receiver,
) -> None:
    # A name resolved once to the receiver's loopback address: the request must reach that
    # address (no second lookup) and still name the host it was meant for.
    port = receiver.url.split(":")[2].split("/")[0]
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    answer = send(
        f"http://hooks.internal.test:{port}/hooks/autodev",
        {"type": "ping"},
        secret=new_secret(),
        msg_id="m-host",
        allowed_hosts=("hooks.internal.test",),
        resolver=resolver,
    )
    assert answer.ok
    assert answer.address == "127.0.0.1"
    assert lookups == ["hooks.internal.test"]
    (request,) = receiver.requests
    assert request.headers["Host"] == f"hooks.internal.test:{port}"
