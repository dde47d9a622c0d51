"""A Postgres server of a test's own, which the test stops and starts (a database outage).

The shared test server must stay up for every other test, so a fault test gets a second real
server: the ``pgserver`` binaries on a data directory of its own, reached by Unix socket, so
that it answers at the same URL after a restart.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any


def _pgserver() -> tuple[Any, Any]:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        import pgserver
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    return pgserver, pg_ctl


class StoppablePostgres:
    def __init__(self) -> None:
        # Short: the server's socket path must fit in the 107 bytes Unix allows.
        self.root = Path(tempfile.mkdtemp(prefix="autodev-pg-"))
        pgserver, self._pg_ctl = _pgserver()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._server = pgserver.get_server(self.root / "data", cleanup_mode=None)
        self.pgdata: Path = self._server.pgdata
        self.url: str = str(self._server.get_uri())
        self._user = self._server.system_user
        self._socket_dir = self._server._postmaster_info.socket_dir
        self._log = str(self._server.log)

    def url_of(self, database: str) -> str:
        return str(self._server.get_uri(database))

    def stop(self) -> None:
        """Stop the server now: open connections are cut, new ones refused."""
        self._pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._user)

    def start(self) -> None:
        """Start it again on the same socket (the same URL)."""
        self._pg_ctl(
            ["-w", "-o", '-h ""', "-o", f"-k {self._socket_dir}", "-l", self._log, "start"],
            pgdata=self.pgdata,
            user=self._user,
        )

    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()

    def remove(self) -> None:
        if self.running():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
