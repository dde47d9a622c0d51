"""The psycopg 3 connection pool.

Sized for Lambda: each execution environment serves one request at a time, so a pool of one
or two connections is plenty, and many environments share the database through RDS Proxy.
Prepared statements are off because RDS Proxy pins a client session that uses them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from autodev.config import Settings, get_settings
from autodev.db import embedded
from autodev.errors import AutodevError


class DatabaseUnavailable(AutodevError):
    """The database cannot be reached; nothing was changed."""


Row = dict[str, Any]
Conn = psycopg.Connection[Row]

_pool: ConnectionPool[Conn] | None = None
_pool_url: str | None = None
_lock = threading.Lock()


def database_url(settings: Settings | None = None) -> str:
    """DATABASE_URL, or the embedded server's URL (starting it) when unset."""
    settings = settings or get_settings()
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return embedded.embedded_url(settings.autodev_state_dir)


def _configure(conn: Conn) -> None:
    conn.prepare_threshold = None


def get_pool(settings: Settings | None = None) -> ConnectionPool[Conn]:
    global _pool, _pool_url
    settings = settings or get_settings()
    url = database_url(settings)
    with _lock:
        if _pool is not None and _pool_url != url:
            _pool.close()
            _pool = None
        if _pool is None:
            _pool = ConnectionPool(
                url,
                min_size=0,
                max_size=settings.db_pool_max_size,
                kwargs={"row_factory": dict_row, "autocommit": False},
                configure=_configure,
                open=True,
                timeout=10,
                name="autodev",
            )
            _pool_url = url
        return _pool


def close_pool() -> None:
    global _pool, _pool_url
    with _lock:
        if _pool is not None:
            _pool.close()
        _pool, _pool_url = None, None


@contextmanager
def connection(settings: Settings | None = None) -> Iterator[Conn]:
    """A pooled connection inside a transaction: committed on success, rolled back on error."""
    try:
        pool = get_pool(settings)
        with pool.connection() as conn:
            yield conn
    except (PoolTimeout, psycopg.OperationalError) as error:
        raise DatabaseUnavailable(f"the database is unavailable: {_first_line(error)}") from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
