"""Request verification: only genuine, fresh, well-formed Slack requests pass."""

from __future__ import annotations

import base64
import time

import pytest

from autodev.slack.verify import MAX_BODY_BYTES, Refusal, RequestRefused, sign, verify

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BODY = "command=%2Fworkflow&text=list&user_id=U1"


def _event(body: str | None, headers: dict[str, str], b64: bool = False) -> dict[str, object]:
    return {
        "resource": "/slack/commands",
        "path": "/slack/commands",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "body": base64.b64encode(body.encode()).decode() if b64 and body else body,
        "isBase64Encoded": b64,
    }


def _refusal(event: dict[str, object], secret: str | None = SECRET) -> Refusal:
    with pytest.raises(RequestRefused) as raised:
        verify(event, secret)
    return raised.value.reason


def test_genuine_request_passes_plain_and_base64() -> None:
    headers = sign(SECRET, BODY)
    assert verify(_event(BODY, headers), SECRET).body == BODY
    assert verify(_event(BODY, headers, b64=True), SECRET).body == BODY


def test_header_names_are_case_insensitive_and_retry_is_read() -> None:
    headers = {k.lower(): v for k, v in sign(SECRET, BODY).items()}
    headers["x-slack-retry-num"] = "2"
    assert verify(_event(BODY, headers), SECRET).retry_num == 2


def test_forged_signature() -> None:
    assert _refusal(_event(BODY, sign("another-secret", BODY))) is Refusal.FORGED


def test_tampered_body() -> None:
    headers = sign(SECRET, BODY)
    assert _refusal(_event(BODY.replace("list", "start"), headers)) is Refusal.FORGED


def test_replayed_after_five_minutes() -> None:
    stale = int(time.time()) - 5 * 60 - 5
    event = _event(BODY, sign(SECRET, BODY, timestamp=stale))
    assert _refusal(event) is Refusal.STALE


def test_unsigned() -> None:
    assert _refusal(_event(BODY, {"Content-Type": "application/x-www-form-urlencoded"})) is (
        Refusal.UNSIGNED
    )


def test_oversized_says_the_limit() -> None:
    body = "text=" + "a" * MAX_BODY_BYTES
    with pytest.raises(RequestRefused) as raised:
        verify(_event(body, sign(SECRET, body)), SECRET)
    assert raised.value.status == 413
    assert "64 KiB" in raised.value.public_message


def test_garbled() -> None:
    headers = sign(SECRET, BODY)
    bad_base64 = _event(BODY, headers) | {"body": "%%%not base64%%%", "isBase64Encoded": True}
    assert _refusal(bad_base64) is Refusal.GARBLED
    assert _refusal(_event(BODY, headers | {"X-Slack-Request-Timestamp": "soon"})) is (
        Refusal.GARBLED
    )
    assert _refusal(_event(BODY, headers | {"X-Slack-Signature": "sha1=00"})) is Refusal.GARBLED


def test_no_secret_configured_refuses_everything() -> None:
    assert _refusal(_event(BODY, sign(SECRET, BODY)), secret=None) is Refusal.UNCONFIGURED


def test_refusal_does_not_reveal_the_reason() -> None:
    error = RequestRefused(Refusal.FORGED)
    assert error.status == 401
    assert error.public_message == "invalid request signature"
