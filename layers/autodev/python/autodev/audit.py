"""The audit trail: one function that every component uses to record what happened."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from autodev.db import connection, in_transaction


def record(
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    *,
    conn: psycopg.Connection[Any] | None = None,
) -> int:
    """Append an audit event and return its id.

    Pass ``conn`` to write inside the caller's transaction, so the event and the change it
    describes commit (or roll back) together.
    """
    query = (
        "INSERT INTO audit_log (actor, action, target, detail) VALUES (%s, %s, %s, %s) RETURNING id"
    )
    params = (actor, action, target, Jsonb(detail or {}))
    with in_transaction(conn) as tx:
        row = tx.execute(query, params).fetchone()
    assert row is not None
    return int(row["id"] if isinstance(row, dict) else row[0])


def recent(limit: int = 50, target: str | None = None) -> list[dict[str, Any]]:
    """The latest audit events, newest first, optionally for one target."""
    with connection() as conn:
        if target is None:
            rows = conn.execute(
                "SELECT id, occurred_at, actor, action, target, detail FROM audit_log "
                "ORDER BY id DESC LIMIT %s",
                (limit,),
            ).fetchall()
        else:
            rows = conn.execute(
                "SELECT id, occurred_at, actor, action, target, detail FROM audit_log "
                "WHERE target = %s ORDER BY id DESC LIMIT %s",
                (target, limit),
            ).fetchall()
    return [dict(row) for row in rows]
