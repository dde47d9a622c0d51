"""The psycopg 3 connection pool.

Sized for Lambda: each execution environment serves one request at a time, so a pool of one
or two connections is plenty, and many environments share the database through RDS Proxy.

Prepared statements (``DB_PREPARED_STATEMENTS``, on by default): psycopg prepares a statement
a connection has run a few times, so the queue's claims and completions skip parsing and
planning. RDS Proxy pins a client session that prepares statements to one database
connection for good, which defeats the proxy's multiplexing, so the CDK app turns them off for
everything that connects through it; a direct connection (the local stack, a worker given
DATABASE_URL) keeps them.

The pool is built once per database and settings: where the database is (``DATABASE_URL``,
parsed once; the secret, re-read when a new connection is opened, so a rotated password is
picked up; the embedded server, started again if it was stopped) is not worked out again for
each ``connection()``.

After the database has been down (a restart, a failover), the connections the pool kept are
dead. A kept connection whose server has gone has something to read (the server's goodbye,
or the socket's end); such a connection is checked with a round trip when it is handed out and
replaced when it does not answer, so the first use after the database is back works instead of
failing once per pooled connection, and a healthy connection costs no extra round trip.
``recently_unavailable`` lets advisory writers (progress, streaming metrics) skip the
database for a moment after it failed, rather than each waiting for the pool's timeout.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from functools import cached_property
from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool, PoolTimeout

from autodev.config import ConfigError, Settings, get_settings
from autodev.db import embedded
from autodev.errors import AutodevError


class DatabaseUnavailable(AutodevError):
    """The database cannot be reached; nothing was changed."""


Row = dict[str, Any]


class Conn(psycopg.Connection[Row]):
    """The pool's connections: psycopg's, with one cursor kept for statements read as tuples."""

    @cached_property
    def tuples(self) -> psycopg.Cursor[tuple[Any, ...]]:
        """A cursor answering plain tuples, made once and reused for every such statement.

        Each new cursor builds its own adapters and looks up a dumper for every parameter and
        a loader for every column again; on the queue's claim, with its sixteen columns, that
        was about a fifth of the client's time. One user at a time holds a pooled connection,
        and each statement's rows are read before the next one runs, so one cursor serves all.
        """
        return self.cursor(row_factory=tuple_row)


def tuple_cursor(conn: psycopg.Connection[Any]) -> psycopg.Cursor[tuple[Any, ...]]:
    """A cursor on ``conn`` answering tuples: a pooled connection's kept one (``Conn.tuples``),
    or a new one on a connection of the caller's own."""
    return conn.tuples if isinstance(conn, Conn) else conn.cursor(row_factory=tuple_row)


# The pool and what it was built for (see ``_key_of``): another key means another pool. One
# tuple, so that a thread reads both at once without the lock.
_current: tuple[tuple[object, ...], ConnectionPool[Conn]] | None = None
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


# psycopg prepares a statement once a connection has run it this many times (its default).
PREPARE_THRESHOLD = 5


def _key_of(settings: Settings) -> tuple[object, ...]:
    """What a pool is built for: where the database is and how to use it. Cheap to compute (no
    parsing, no I/O), since every ``connection()`` compares it with the pool's."""
    if settings.database_url is not None:
        where: tuple[object, ...] = ("url", settings.database_url.get_secret_value())
    elif os.environ.get("DATABASE_SECRET_ARN"):
        where = ("secret", os.environ["DATABASE_SECRET_ARN"])
    else:
        where = ("embedded", settings.autodev_state_dir)
    return (*where, settings.db_prepared_statements, settings.db_pool_max_size)


def _conninfo(settings: Settings) -> str | Callable[[], str]:
    """The pool's connection string: parsed and checked here, once; for the secret and the
    embedded server, what the pool calls for each new connection."""
    if settings.database_url is not None or not os.environ.get("DATABASE_SECRET_ARN"):
        url = database_url(settings)  # a bad DATABASE_URL fails here, in the caller
        if settings.database_url is not None:
            return url
        state_dir = settings.autodev_state_dir
        return lambda: embedded.embedded_url(state_dir)  # restarted if stopped meanwhile
    arn = os.environ["DATABASE_SECRET_ARN"]
    return lambda: _url_from_secret(arn)


def _configurer(settings: Settings) -> Callable[[Conn], None]:
    threshold = PREPARE_THRESHOLD if settings.db_prepared_statements else None

    def configure(conn: Conn) -> None:
        conn.prepare_threshold = threshold

    return configure


def _check(conn: Conn) -> None:
    """Check a kept connection only when its server has said something while it sat idle (a
    shutdown's goodbye) or closed it: a healthy one is handed out without a round trip."""
    idle = select.poll()
    idle.register(conn.pgconn.socket, select.POLLIN)
    if idle.poll(0):
        ConnectionPool.check_connection(conn)


def get_pool(settings: Settings | None = None) -> ConnectionPool[Conn]:
    global _current
    settings = settings or get_settings()
    key = _key_of(settings)
    current = _current
    if current is not None and current[0] == key:
        return current[1]
    with _lock:
        if _current is not None and _current[0] == key:
            return _current[1]
        if _current is not None:
            _current[1].close()
            _current = None
        pool: ConnectionPool[Conn] = ConnectionPool(
            _conninfo(settings),
            min_size=0,
            max_size=settings.db_pool_max_size,
            connection_class=Conn,
            kwargs={"row_factory": dict_row, "autocommit": False},
            configure=_configurer(settings),
            # A connection that died while idle (the server restarted) is replaced here
            # rather than handed out to fail.
            check=_check,
            open=True,
            timeout=10,
            name="autodev",
        )
        _current = (key, pool)
        return pool


def close_pool() -> None:
    global _current
    with _lock:
        if _current is not None:
            _current[1].close()
        _current = None


@contextmanager
def connection(
    settings: Settings | None = None,
    *,
    autocommit: bool = False,
    isolation: psycopg.IsolationLevel | None = None,
) -> Iterator[Conn]:
    """A pooled connection inside a transaction: committed on success, rolled back on error.

    ``autocommit`` is for work that is one statement: the statement is its own transaction,
    sent and committed in one round trip instead of three (BEGIN, the statement, COMMIT).
    ``isolation`` is the transaction's isolation level (the server's default, read committed,
    otherwise): REPEATABLE_READ when several reads must see the database at one moment.

    The connection is taken and given back with ``getconn``/``putconn`` rather than the pool's
    own context manager, which would also commit (a no-op in autocommit) and keep usage
    statistics: on the queue's one-statement paths that bookkeeping was a fifth of the client's
    time. ``putconn`` still rolls back what was left open and replaces a broken connection.
    """
    global _unavailable_at
    try:
        pool = get_pool(settings)
        conn = pool.getconn()
        try:
            _unavailable_at = None
            # A pooled connection keeps the mode its last user left it in, and is switched
            # only when this use needs the other: each switch is a call through the
            # connection's lock, and the queue's one-statement paths (a claim, a completion)
            # then switch nothing from one task to the next.
            if conn.autocommit != autocommit:
                conn.autocommit = autocommit
            if autocommit:
                yield conn
                return
            if isolation is not None:
                conn.isolation_level = isolation
            try:
                with conn:  # psycopg's: commit on success, roll back on error
                    yield conn
            finally:
                if isolation is not None:
                    with suppress(psycopg.Error):  # a broken connection is replaced anyway
                        conn.isolation_level = None  # the next user gets the default
        finally:
            pool.putconn(conn)
    except PoolTimeout as error:
        _unavailable_at = time.monotonic()
        raise DatabaseUnavailable(
            f"the database is unavailable: {_why_no_connection(pool) or _first_line(error)}"
        ) from error
    except psycopg.OperationalError as error:
        _unavailable_at = time.monotonic()
        raise DatabaseUnavailable(f"the database is unavailable: {_first_line(error)}") from error


def connect_ahead(settings: Settings | None = None) -> None:
    """Open the pool's first two connections in the background while the caller goes on with
    its start-up, so that its first statements find them open: a worker's remaining imports
    take longer than connecting (the server starts a backend; in AWS, TLS through RDS Proxy),
    and its registration and first claim come right after them. Two, because a worker's first
    task reads the database from two threads at once as it starts (the step's repository, its
    workflow's budget, the start's bookkeeping): with one open, a fresh worker's first task had
    5-11 ms of waits for connections before its agent started (the pool's statistics, 4 cold
    runs). Best effort: a database that cannot be reached is for the first statement to
    report, not this."""

    def connect() -> None:
        with suppress(AutodevError), ExitStack() as held:
            # Held at once, or the second would be the first again; never more than the pool.
            for _ in range(min(2, (settings or get_settings()).db_pool_max_size)):
                held.enter_context(connection(settings, autocommit=True))

    threading.Thread(target=connect, name="connect-ahead", daemon=True).start()


def recently_unavailable(within_seconds: float = 10.0) -> bool:
    """Whether this process found the database unreachable in the last ``within_seconds``
    (and has not reached it since)."""
    failed_at = _unavailable_at
    return failed_at is not None and time.monotonic() - failed_at < within_seconds


@contextmanager
def in_transaction(
    conn: psycopg.Connection[Any] | None = None, *, autocommit: bool = False
) -> Iterator[psycopg.Connection[Any]]:
    """The caller's connection when one is given, so that the work commits (or rolls back)
    with the rest of the caller's transaction; otherwise a pooled one of our own, committed
    on success and rolled back on error (``autocommit``: see ``connection``)."""
    if conn is not None:
        yield conn
        return
    with connection(autocommit=autocommit) as own:
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
