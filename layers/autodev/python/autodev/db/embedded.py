"""A real PostgreSQL server from the ``pgserver`` wheel, for when DATABASE_URL is unset.

The server lives under ``AUTODEV_STATE_DIR/pgdata``. It runs while some process uses it and no
longer: every process that asks for it holds a handle (``pgserver`` keeps the list of their pids
beside the data, under its own inter-process lock), and the last one to exit stops it. A command
that needed the database (``autodev demo``, ``autodev workflow status``, the test suite) leaves
no Postgres behind; ``autodev local up`` keeps it up because the background stack holds a handle
until ``autodev local down``. A process that died without letting go (killed) is dropped from
the list, so it cannot keep the server up for ever.
"""

from __future__ import annotations

import atexit
import os
import threading
import warnings
from pathlib import Path
from typing import Any

HANDLES_FILE = ".handle_pids.json"
# pgserver's inter-process lock (a lock file) must not be taken by two threads of one process
# at once: the threads of this process take turns first.
_thread_lock = threading.RLock()
_held: dict[Path, Any] = {}


def pgdata_dir(state_dir: Path) -> Path:
    return (state_dir / "pgdata").resolve()


def _pgserver() -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
            warnings.simplefilter("ignore")
            import pgserver
            import pgserver.postgres_server
    except ImportError as error:  # the 'local' dependency group is not installed
        raise RuntimeError(
            "DATABASE_URL is unset and the embedded Postgres (pgserver) is not installed; "
            "run `uv sync` or set DATABASE_URL"
        ) from error
    return pgserver


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def live_handles(state_dir: Path) -> list[int]:
    """The pids of the live processes that hold the server; dead ones are dropped."""
    pgserver = _pgserver()
    from pgserver.utils import DiskList

    directory = pgdata_dir(state_dir)
    if not directory.is_dir():
        return []
    with _thread_lock, pgserver.postgres_server.PostgresServer._lock:
        handles = DiskList(directory / HANDLES_FILE)
        pids = handles.get()
        alive = [pid for pid in pids if _alive(pid)]
        if alive != pids:
            handles.put(alive)
    return alive


def _prune_at_exit(directory: Path) -> None:
    # Runs before pgserver's own exit hook (registered earlier; atexit runs in reverse), which
    # stops the server only when this process is the last one in the list.
    try:
        live_handles(directory.parent)
    except (OSError, ValueError):
        return  # the list is unreadable: pgserver's hook decides as before


def _server(state_dir: Path) -> Any:
    """This process's handle on the server (taken once, then reused by every thread)."""
    directory = pgdata_dir(state_dir)
    with _thread_lock:
        held = _held.get(directory)
        if held is not None:
            return held
        pgserver = _pgserver()
        directory.parent.mkdir(parents=True, exist_ok=True)
        if directory.is_dir():
            live_handles(state_dir)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # cleanup_mode='stop': the last process holding the server stops it when it exits.
            held = pgserver.get_server(directory, cleanup_mode="stop")
        _held[directory] = held
        atexit.register(_prune_at_exit, directory)
        return held


def embedded_url(state_dir: Path) -> str:
    """Start (or find) the embedded server, hold it for this process, and return its URL."""
    return str(_server(state_dir).get_uri())


def is_running(state_dir: Path) -> bool:
    return (pgdata_dir(state_dir) / "postmaster.pid").exists()


def stop(state_dir: Path) -> bool:
    """Stop the embedded server if it runs and no live process holds it (``pg_ctl stop``);
    return whether it was stopped."""
    if not is_running(state_dir):
        return False
    if [pid for pid in live_handles(state_dir) if pid != os.getpid()]:
        return False
    _pgserver()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    # pgserver runs the server as its own user when started as root.
    user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    pg_ctl(["-w", "stop"], pgdata=pgdata_dir(state_dir), user=user)
    return True
