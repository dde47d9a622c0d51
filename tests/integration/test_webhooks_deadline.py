"""A receiver that trickles its answer cannot hold a delivery: each attempt has a deadline.

The socket read timeout bounds each wait for a byte; a receiver sending one byte every
fraction of that timeout never trips it. These receivers send a complete, valid answer, just
slowly: without the attempt's deadline the send would succeed, however long it took.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from autodev.webhooks import WebhookFailed, new_secret, send

BODY = b'{"ok": true, "note": "a complete answer, sent slowly"}'
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)
DRIP_SECONDS = 0.2  # far below the read timeout: each byte resets it


class TricklingReceiver:
    """Reads the request, then sends ``ANSWER`` one byte at a time, from byte ``fast`` on."""

    def __init__(self, fast: int) -> None:
        self.fast = fast
        self.stopped = threading.Event()
        self.bytes_sent = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}/hooks"

    def __enter__(self) -> TricklingReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self._server.close()
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        try:
            conn, _ = self._server.accept()
        except OSError:
            return
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            length = int(request.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            while len(request.split(b"\r\n\r\n", 1)[1]) < length:
                request += conn.recv(65536)
            try:
                conn.sendall(ANSWER[: self.fast])
                self.bytes_sent = self.fast
                for byte in ANSWER[self.fast :]:
                    if self.stopped.wait(DRIP_SECONDS):
                        return
                    conn.sendall(bytes([byte]))
                    self.bytes_sent += 1
            except OSError:
                return  # the sender gave up and shut the connection


@pytest.fixture(params=["status line", "body"])
def trickler(request: pytest.FixtureRequest) -> Iterator[TricklingReceiver]:
    # Trickled from the first byte (the status line and headers are read before any answer
    # exists) or only within the body.
    fast = 0 if request.param == "status line" else ANSWER.index(b"\r\n\r\n") + 4
    with TricklingReceiver(fast) as receiver:
        yield receiver


def test_a_trickled_answer_fails_at_the_attempts_deadline(trickler: TricklingReceiver) -> None:
    assert DRIP_SECONDS * (len(ANSWER) - trickler.fast) > 2.5  # it would outlast the deadline
    with pytest.raises(WebhookFailed, match=r"127\.0\.0\.1: no complete answer within 1 s"):
        send(
            trickler.url,
            {"type": "ping"},
            secret=new_secret(),
            msg_id="m-trickle",
            allowed_hosts=("127.0.0.1",),
            read_timeout=10,
            deadline_seconds=1,
        )
    assert trickler.bytes_sent < len(ANSWER)  # it was cut off, not waited out
