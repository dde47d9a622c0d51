"""A real PostgreSQL server from the ``pgserver`` wheel, for when DATABASE_URL is unset.

The server lives under ``AUTODEV_STATE_DIR/pgdata``; it is started on first use and left
running so that later commands (and other local processes) reuse it. ``pgserver`` keeps the
shared postmaster safe across processes with its own lock file, but that lock (fasteners'
InterProcessLock) is not safe between threads of one process: threads that start it at once
fail with "Unable to release an unaquired lock". So each process starts (or finds) it once,
under a lock of its own, and keeps the handle; it looks again only when the server has been
stopped since (``autodev local down`` from another process).
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_servers: dict[Path, Any] = {}


def pgdata_dir(state_dir: Path) -> Path:
    return (state_dir / "pgdata").resolve()


def _server(state_dir: Path) -> Any:
    """The server's handle: started once per process (see the module's description)."""
    directory = pgdata_dir(state_dir)
    with _lock:
        server = _servers.get(directory)
        if server is not None and is_running(state_dir):
            return server
        server = _start(state_dir)
        _servers[directory] = server
        return server


def _start(state_dir: Path) -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError as error:  # the 'local' dependency group is not installed
        raise RuntimeError(
            "DATABASE_URL is unset and the embedded Postgres (pgserver) is not installed; "
            "run `uv sync` or set DATABASE_URL"
        ) from error
    directory = pgdata_dir(state_dir)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # cleanup_mode=None: keep the server running after this process exits, for reuse.
        server = pgserver.get_server(directory, cleanup_mode=None)  # type: ignore[attr-defined]
        if not is_running(state_dir):
            # pgserver hands back its handle from before the server was stopped elsewhere.
            with server._lock:
                server.ensure_postgres_running()
        return server


def embedded_url(state_dir: Path) -> str:
    """Start (or find) the embedded server and return a connection URL for it."""
    return str(_server(state_dir).get_uri())


def is_running(state_dir: Path) -> bool:
    return (pgdata_dir(state_dir) / "postmaster.pid").exists()


def stop(state_dir: Path) -> bool:
    """Stop the embedded server if it runs (``pg_ctl stop``); return whether it was running."""
    if not is_running(state_dir):
        return False
    server = _server(state_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    with _lock:
        pg_ctl(["-w", "stop"], pgdata=pgdata_dir(state_dir), user=server.system_user)
        _servers.pop(pgdata_dir(state_dir), None)
    return True
