"""Send one signed webhook to a checked address: timeout, no redirects, bounded answer.

The connection goes to the address ``guard.check_target`` checked (never a fresh DNS
lookup), with the URL's host name in the Host header and, for https, in TLS SNI and
certificate verification. Redirects are not followed (a 3xx is an answer, and counts as a
failure), and only the first ``MAX_ANSWER_BYTES`` of the answer are read.

Socket timeouts bound each wait for a byte, not the attempt: a receiver that trickles one byte
every few seconds would hold a delivery for as long as it likes. So each attempt also has an
overall deadline (``ATTEMPT_DEADLINE_SECONDS``): when it passes, the connection's socket is shut
down, whatever the attempt is waiting for, and the attempt fails.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
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
# The whole attempt: connecting, sending, and reading the status, headers and answer.
ATTEMPT_DEADLINE_SECONDS = 20.0
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


class _Deadline:
    """Shuts down the sockets of one attempt when its deadline passes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        # shutdown (unlike close) wakes a thread blocked reading the socket; one already
        # closed has nothing waiting on it.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _watched(base: type[Any], deadline: _Deadline) -> type[Any]:
    """``base`` (urllib3's connection class) whose socket ``deadline`` watches."""

    class Watched(base):  # type: ignore[misc]
        def connect(self) -> None:
            super().connect()
            deadline.watch(self.sock)

    return Watched


def _pool(
    target: Target, timeout: urllib3.Timeout, deadline: _Deadline
) -> urllib3.HTTPConnectionPool:
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
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
    else:
        pool = urllib3.HTTPConnectionPool(
            target.address, target.port, timeout=timeout, retries=False, maxsize=1
        )
    pool.ConnectionCls = _watched(pool.ConnectionCls, deadline)
    return pool


def post(
    target: Target,
    body: str,
    headers: dict[str, str],
    *,
    read_timeout: float = READ_TIMEOUT_SECONDS,
    deadline_seconds: float = ATTEMPT_DEADLINE_SECONDS,
) -> WebhookAnswer:
    """POST ``body`` to a checked target and return its answer (any status); WebhookFailed
    when it cannot be reached or the attempt outlasts ``deadline_seconds``."""
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=read_timeout)
    all_headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }
    started = time.monotonic()
    with _Deadline(deadline_seconds) as deadline:
        try:
            response, raw = _exchange(target, timeout, deadline, body, all_headers)
        except urllib3.exceptions.HTTPError as error:
            if deadline.expired:
                raise WebhookFailed(_too_slow(target, deadline)) from None
            raise WebhookFailed(f"{target.host}: {_describe(error)}") from None
    if deadline.expired:  # the socket was shut mid-answer: what was read is not the answer
        raise WebhookFailed(_too_slow(target, deadline))
    elapsed = (time.monotonic() - started) * 1000
    return WebhookAnswer(response.status, raw.decode(errors="replace"), elapsed, target.address)


def _too_slow(target: Target, deadline: _Deadline) -> str:
    return f"{target.host}: no complete answer within {deadline.seconds:g} s"


def _exchange(
    target: Target,
    timeout: urllib3.Timeout,
    deadline: _Deadline,
    body: str,
    headers: dict[str, str],
) -> tuple[urllib3.BaseHTTPResponse, bytes]:
    pool = _pool(target, timeout, deadline)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body.encode(),
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            raw = response.read(MAX_ANSWER_BYTES, decode_content=True)
        finally:
            response.release_conn()
    finally:
        pool.close()
    return response, raw


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
    deadline_seconds: float = ATTEMPT_DEADLINE_SECONDS,
) -> WebhookAnswer:
    """Check ``url``, sign ``payload`` and POST it. WebhookRefused before any connection if
    the target is not allowed; WebhookFailed if it cannot be reached."""
    target = check_target(url, allowed_hosts=allowed_hosts, resolver=resolver)
    body = json.dumps(payload, separators=(",", ":"), default=str)
    return post(
        target,
        body,
        sign_headers(secret, msg_id, body, timestamp),
        read_timeout=read_timeout,
        deadline_seconds=deadline_seconds,
    )
