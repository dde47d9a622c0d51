"""Postgres access: the connection pool, the embedded server, and the migrations."""

from autodev.db.pool import (
    DatabaseUnavailable,
    close_pool,
    connect_ahead,
    connection,
    get_pool,
    in_transaction,
    recently_unavailable,
    tuple_cursor,
)

__all__ = [
    "DatabaseUnavailable",
    "close_pool",
    "connect_ahead",
    "connection",
    "get_pool",
    "in_transaction",
    "recently_unavailable",
    "tuple_cursor",
]
