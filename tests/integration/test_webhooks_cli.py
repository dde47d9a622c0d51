"""`autodev webhook test`: a signed ping to a real receiver, and a clear refusal."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from svix.webhooks import Webhook as SvixWebhook

from autodev.webhooks import new_secret
from tests.integration.webhooks_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def _autodev(*args: str, allowed: str = "") -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "WEBHOOK_ALLOWED_HOSTS": allowed}
    return subprocess.run(
        [sys.executable, "-c", "from autodev.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_ping_reports_the_answer(receiver: Receiver) -> None:
    secret = new_secret()
    done = _autodev("webhook", "test", receiver.url, "--secret", secret, allowed="127.0.0.1")
    assert done.returncode == 0, done.stderr
    assert "answered 200" in done.stdout
    (request,) = receiver.requests
    SvixWebhook(secret).verify(request.body, request.headers)
    assert request.json["type"] == "ping"
    assert secret not in done.stdout + done.stderr


def test_a_refused_target_says_why_in_one_line(receiver: Receiver) -> None:
    done = _autodev("webhook", "test", receiver.url)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "refused" in done.stderr
    assert "https" in done.stderr
    assert receiver.requests == []


def test_a_failing_receiver_exits_non_zero(receiver: Receiver) -> None:
    receiver.fail_next = 1
    done = _autodev("webhook", "test", receiver.url, allowed="127.0.0.1")
    assert done.returncode == 1
    assert "answered 500" in done.stdout
