"""The psycopg 3 connection pool.

Sized for Lambda: each execution environment serves one request at a time, so a pool of one
or two connections is plenty, and many environments share the database through RDS Proxy.
Prepared statements are off because RDS Proxy pins a client session that uses them.

After the database has been down (a restart, a failover), the connections the pool kept are
dead; each is checked when it is handed out and replaced when it does not answer, so the
first use after the database is back works instead of failing once per pooled connection.
``recently_unavailable`` lets advisory writers (progress, streaming metrics) skip the
database for a moment after it failed, rather than each waiting for the pool's timeout.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from autodev.config import ConfigError, Settings, get_settings
from autodev.db import embedded
from autodev.errors import AutodevError


class DatabaseUnavailable(AutodevError):
    """The database cannot be reached; nothing was changed."""


Row = dict[str, Any]
Conn = psycopg.Connection[Row]

_pool: ConnectionPool[Conn] | None = None
_pool_url: str | None = None
_lock = threading.Lock()
# When this process last found the database unreachable (monotonic), None once it answered.
_unavailable_at: float | None = None


def database_url(settings: Settings | None = None) -> str:
    """Where the database is, in order of precedence.

    1. ``DATABASE_URL``.
    2. In AWS: ``DATABASE_SECRET_ARN`` (the RDS-managed JSON secret, read with Powertools
       Parameters and cached briefly because the password rotates) with ``DATABASE_HOST`` (the
       RDS Proxy endpoint, not the instance in the secret), ``DATABASE_PORT``, ``DATABASE_NAME``.
    3. Otherwise the embedded server under ``AUTODEV_STATE_DIR``, started on demand.
    """
    settings = settings or get_settings()
    if settings.database_url is not None:
        return _checked(settings.database_url.get_secret_value())
    if os.environ.get("DATABASE_SECRET_ARN"):
        return _url_from_secret(os.environ["DATABASE_SECRET_ARN"])
    return embedded.embedded_url(settings.autodev_state_dir)


def _checked(url: str) -> str:
    """The URL, if psycopg can parse it; its parse errors quote the URL, password and all."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise ConfigError(
            "DATABASE_URL is not valid: expected postgresql://user:password@host:port/database"
            " (percent-encode special characters)"
        ) from None
    return url


# Short, so that a rotated password is picked up within a minute of rotation.
_SECRET_MAX_AGE_SECONDS = 60


def _url_from_secret(secret_arn: str) -> str:
    from aws_lambda_powertools.utilities import parameters
    from psycopg.conninfo import make_conninfo

    secret: Any = parameters.get_secret(
        secret_arn, transform="json", max_age=_SECRET_MAX_AGE_SECONDS
    )
    return make_conninfo(
        host=os.environ["DATABASE_HOST"],
        port=os.environ.get("DATABASE_PORT", "5432"),
        dbname=os.environ.get("DATABASE_NAME", "autodev"),
        user=str(secret["username"]),
        password=str(secret["password"]),
        # RDS enforces TLS (rds.force_ssl); the variable exists for tests on a local server.
        sslmode=os.environ.get("DATABASE_SSLMODE", "require"),
        connect_timeout="10",
    )


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
                # A connection that died while idle (the server restarted) is replaced here
                # rather than handed out to fail.
                check=ConnectionPool.check_connection,
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
    global _unavailable_at
    try:
        pool = get_pool(settings)
        with pool.connection() as conn:
            _unavailable_at = None
            yield conn
    except PoolTimeout as error:
        _unavailable_at = time.monotonic()
        raise DatabaseUnavailable(
            f"the database is unavailable: {_why_no_connection(pool) or _first_line(error)}"
        ) from error
    except psycopg.OperationalError as error:
        _unavailable_at = time.monotonic()
        raise DatabaseUnavailable(f"the database is unavailable: {_first_line(error)}") from error


def recently_unavailable(within_seconds: float = 10.0) -> bool:
    """Whether this process found the database unreachable in the last ``within_seconds``
    (and has not reached it since)."""
    failed_at = _unavailable_at
    return failed_at is not None and time.monotonic() - failed_at < within_seconds


@contextmanager
def in_transaction(
    conn: psycopg.Connection[Any] | None = None,
) -> Iterator[psycopg.Connection[Any]]:
    """The caller's connection when one is given, so that the work commits (or rolls back)
    with the rest of the caller's transaction; otherwise a pooled one of our own, committed
    on success and rolled back on error."""
    if conn is not None:
        yield conn
        return
    with connection() as own:
        yield own


def _why_no_connection(pool: ConnectionPool[Conn]) -> str | None:
    """Why the pool could not connect, from one direct attempt (the pool only logs it); None
    when the database answers, i.e. every connection was busy."""
    try:
        conninfo = pool.conninfo
        url = conninfo() if callable(conninfo) else conninfo
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as error:
        return _first_line(error)
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
