"""A threaded HTTP server on loopback, run from a daemon thread: the local stand-ins for the
services autodev talks to (the Slack sink, the API Gateway shim) share this lifecycle."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    """``start()`` binds ``host:port`` (a free port when 0) and serves until ``stop()``."""

    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self._name = name
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        """The request handler; called once per start, so it may bind to this instance."""
        raise NotImplementedError

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = ThreadingHTTPServer(self._address, self.handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=self._name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"the {self._name} server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"
