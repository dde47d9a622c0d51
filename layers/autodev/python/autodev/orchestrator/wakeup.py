"""Waking idle workers when a task is queued: Postgres LISTEN/NOTIFY.

Queuing a task notifies ``CHANNEL`` in the same statement (``queue.submit``'s RETURNING
clause; Postgres delivers it when that commits). An idle worker waits on a connection of
its own that LISTENs on the channel, so it claims the moment a task is queued instead of at
its next poll. It still claims on its poll interval as well: that covers what no notification
announces (a retried task whose backoff ends, a task handed back by the rescuer) and a
listening connection that failed, after which the worker polls until it can listen again.

A notification that arrives while the worker is busy waits in its connection, so the next wait
returns at once and the worker claims: nothing queued meanwhile is missed. Every idle worker
wakes on a notification and all but one find nothing to claim (SKIP LOCKED); with at most
ORCHESTRATOR_MAX_INSTANCES workers that costs a few cheap queries.

Through RDS Proxy a session that LISTENs is pinned to one database connection for its life:
one connection per worker, which the proxy's connection limit allows for.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from autodev.config import Settings
from autodev.observability import child_logger

log = child_logger(__name__)

CHANNEL = "autodev_task_queued"
# After a listening connection failed, the worker polls for this long before it tries again.
RETRY_LISTEN_SECONDS = 30.0


class Listener:
    """A worker's wait for queued tasks: LISTEN on a connection of its own."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._conn: psycopg.Connection[Any] | None = None
        self._failed_at: float | None = None

    @property
    def listening(self) -> bool:
        return self._conn is not None

    def listen(self) -> bool:
        """Start listening (a no-op when listening); False when the database cannot be
        reached, or could not be lately (the caller polls meanwhile)."""
        if self._conn is not None:
            return True
        if self._failed_at is not None and (
            time.monotonic() - self._failed_at < RETRY_LISTEN_SECONDS
        ):
            return False
        from autodev.db.pool import database_url

        try:
            conn = psycopg.connect(database_url(self._settings), autocommit=True)
            conn.execute(f"LISTEN {CHANNEL}")
        except (psycopg.Error, OSError) as error:
            self._failed(error)
            return False
        self._conn, self._failed_at = conn, None
        return True

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a task to be queued; True when one was (or one
        was announced while the worker was busy), False at the timeout. Returns at once with
        False when not listening: the caller waits its poll interval itself."""
        conn = self._conn
        if conn is None:
            return False
        try:
            for _ in conn.notifies(timeout=timeout, stop_after=1):
                return True
        except (psycopg.Error, OSError) as error:
            self._failed(error)
        return False

    def _failed(self, error: BaseException) -> None:
        log.warning(
            "cannot listen for queued tasks (%s); polling every few hundred ms instead",
            str(error).splitlines()[0] if str(error) else type(error).__name__,
        )
        self._failed_at = time.monotonic()
        self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error as error:
                log.debug("closing the listening connection: %s", error)
