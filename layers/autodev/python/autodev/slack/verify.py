"""Verifying that a request comes from Slack, before anything else is done with it.

slack_sdk's SignatureVerifier checks ``X-Slack-Signature`` (HMAC-SHA256 of
``v0:{timestamp}:{body}`` with the signing secret) and the five-minute window on
``X-Slack-Request-Timestamp``. Refusals name their reason for the log line only; Slack (and
an attacker) see a generic answer: 401, or 413 for a body over ``MAX_BODY_BYTES``.

slack_sdk is imported when a signature is checked, not with this module: its package import
brings the Web API client, which would make the Slack handlers' cold import cost more than
``import boto3`` (issue 18); the first request checked pays for it instead.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slack_sdk.signature import SignatureVerifier

MAX_BODY_BYTES = 64 * 1024  # Slack's slash command, interaction and event bodies are far below
WINDOW_SECONDS = 5 * 60


class Refusal(StrEnum):
    UNCONFIGURED = "no signing secret configured"
    UNSIGNED = "unsigned"
    STALE = "timestamp outside the five-minute window"
    FORGED = "signature does not match"
    OVERSIZED = "body too large"
    GARBLED = "malformed request"


@dataclass(frozen=True)
class RequestRefused(Exception):
    """The request is not a genuine, well-formed Slack request; nothing was done."""

    reason: Refusal

    @property
    def status(self) -> int:
        return 413 if self.reason is Refusal.OVERSIZED else 401

    @property
    def public_message(self) -> str:
        if self.reason is Refusal.OVERSIZED:
            return f"request body is larger than the {MAX_BODY_BYTES // 1024} KiB limit"
        return "invalid request signature"


@dataclass(frozen=True)
class SlackRequest:
    """A verified request: its text body and lower-cased headers."""

    body: str
    headers: Mapping[str, str]

    @property
    def retry_num(self) -> int:
        """Slack's ``X-Slack-Retry-Num`` for a redelivery, else 0."""
        value = self.headers.get("x-slack-retry-num", "0")
        return int(value) if value.isdigit() else 0


def lower_headers(event: Mapping[str, Any]) -> dict[str, str]:
    """The headers of an API Gateway proxy event, names lower-cased (single values win)."""
    found: dict[str, str] = {}
    multi = event.get("multiValueHeaders") or {}
    if isinstance(multi, Mapping):
        for name, values in multi.items():
            if isinstance(values, list) and values:
                found[str(name).lower()] = str(values[-1])
    single = event.get("headers") or {}
    if isinstance(single, Mapping):
        for name, value in single.items():
            if value is not None:
                found[str(name).lower()] = str(value)
    return found


def raw_body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise RequestRefused(Refusal.GARBLED)
    if event.get("isBase64Encoded"):
        if len(body) > MAX_BODY_BYTES * 4 // 3 + 4:
            raise RequestRefused(Refusal.OVERSIZED)
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise RequestRefused(Refusal.GARBLED) from None
    return body.encode("utf-8", errors="surrogateescape")


def verify(event: Mapping[str, Any], secret: str | None, now: float | None = None) -> SlackRequest:
    """Check an API Gateway proxy event; return the verified request or raise RequestRefused."""
    if not secret:
        raise RequestRefused(Refusal.UNCONFIGURED)
    headers = lower_headers(event)
    body = raw_body(event)
    if len(body) > MAX_BODY_BYTES:
        raise RequestRefused(Refusal.OVERSIZED)
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp or not signature:
        raise RequestRefused(Refusal.UNSIGNED)
    if not timestamp.isdigit() or not signature.startswith("v0="):
        raise RequestRefused(Refusal.GARBLED)
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > WINDOW_SECONDS:
        raise RequestRefused(Refusal.STALE)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestRefused(Refusal.GARBLED) from None
    verifier = _verifier(secret, at=current)
    if not verifier.is_valid(body=text, timestamp=timestamp, signature=signature):
        raise RequestRefused(Refusal.FORGED)
    return SlackRequest(body=text, headers=headers)


def _verifier(secret: str, at: float | None = None) -> SignatureVerifier:
    """slack_sdk's verifier, its clock fixed at ``at`` (the time the window was checked at)."""
    from slack_sdk.signature import Clock, SignatureVerifier

    class FixedClock(Clock):
        def now(self) -> float:
            return time.time() if at is None else at

    return SignatureVerifier(secret, clock=FixedClock())


def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack would send with ``body`` (for ``autodev slack`` and the tests)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = _verifier(secret).generate_signature(timestamp=stamp, body=body) or ""
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
