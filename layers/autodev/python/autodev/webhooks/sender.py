"""Send one signed webhook to a checked address: timeout, no redirects, bounded answer.

The connection goes to the address ``guard.check_target`` checked (never a fresh DNS
lookup), with the URL's host name in the Host header and, for https, in TLS SNI and
certificate verification. Redirects are not followed (a 3xx is an answer, and counts as a
failure), and only the first ``MAX_ANSWER_BYTES`` of the answer are read.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import urllib3

from autodev.errors import AutodevError
from autodev.webhooks.guard import Resolver, Target, check_target
from autodev.webhooks.signing import sign_headers

CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 10.0
MAX_ANSWER_BYTES = 16 * 1024
USER_AGENT = "autodev-webhooks/1"


class WebhookFailed(AutodevError):
    """The receiver could not be reached or did not answer in time."""


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    body: str
    elapsed_ms: float
    address: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _pool(target: Target, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs=ssl.CERT_REQUIRED,
            ssl_context=ssl.create_default_context(),
        )
    return urllib3.HTTPConnectionPool(
        target.address, target.port, timeout=timeout, retries=False, maxsize=1
    )


def post(
    target: Target,
    body: str,
    headers: dict[str, str],
    *,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> WebhookAnswer:
    """POST ``body`` to a checked target and return its answer (any status)."""
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=read_timeout)
    all_headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }
    started = time.monotonic()
    pool = _pool(target, timeout)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body.encode(),
            headers=all_headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            raw = response.read(MAX_ANSWER_BYTES, decode_content=True)
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as error:
        raise WebhookFailed(f"{target.host}: {_describe(error)}") from None
    finally:
        pool.close()
    elapsed = (time.monotonic() - started) * 1000
    return WebhookAnswer(response.status, raw.decode(errors="replace"), elapsed, target.address)


def _describe(error: Exception) -> str:
    reason = getattr(error, "reason", None) or error
    text = str(reason).strip().splitlines()
    return text[0] if text else type(error).__name__


def send(
    url: str,
    payload: dict[str, Any],
    *,
    secret: str,
    msg_id: str,
    timestamp: datetime | None = None,
    allowed_hosts: Iterable[str] | None = None,
    resolver: Resolver | None = None,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> WebhookAnswer:
    """Check ``url``, sign ``payload`` and POST it. WebhookRefused before any connection if
    the target is not allowed; WebhookFailed if it cannot be reached."""
    target = check_target(url, allowed_hosts=allowed_hosts, resolver=resolver)
    body = json.dumps(payload, separators=(",", ":"), default=str)
    return post(
        target, body, sign_headers(secret, msg_id, body, timestamp), read_timeout=read_timeout
    )
