"""Result callbacks: results cached in ``task_results``, deliveries to the registered callbacks.

First cut: the public signatures are final; delivery through the outbox follows.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from autodev.db import connection
from autodev.errors import InvalidInput

TARGET_KINDS = frozenset({"task", "workflow"})
CALLBACK_TYPES = frozenset({"slack", "webhook", "event"})

Conn = psycopg.Connection[Any]


def _check_kind(target_kind: str) -> None:
    if target_kind not in TARGET_KINDS:
        raise InvalidInput(f"target kind must be task or workflow, not {target_kind!r}")


def register_callback(
    target_id: str, spec: dict[str, Any], *, target_kind: str = "workflow", conn: Conn | None = None
) -> str:
    """Register a callback ``{type: slack|webhook|event, ...}`` for a task or workflow."""
    _check_kind(target_kind)
    kind = spec.get("type")
    if kind not in CALLBACK_TYPES:
        raise InvalidInput("a callback's type must be slack, webhook or event")
    config = {k: v for k, v in spec.items() if k not in ("type", "secret")}
    callback_id = str(uuid.uuid4())
    params = (callback_id, target_id, target_kind, kind, Jsonb(config), spec.get("secret"))
    query = (
        "INSERT INTO task_callbacks (id, target_id, target_kind, callback_type, config, secret)"
        " VALUES (%s, %s, %s, %s, %s, %s)"
    )
    if conn is not None:
        conn.execute(query, params)
    else:
        with connection() as own:
            own.execute(query, params)
    return callback_id


def deliver_result(
    target_id: str,
    result: dict[str, Any],
    *,
    target_kind: str = "workflow",
    conn: Conn | None = None,
) -> str:
    """Cache ``result`` for ``target_id`` and queue its deliveries; returns the result id."""
    _check_kind(target_kind)
    body = json.dumps(result, default=str)
    query = (
        "INSERT INTO task_results (id, target_id, target_kind, status, content, size_bytes)"
        " VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (target_id, name) DO UPDATE SET status = EXCLUDED.status,"
        " content = EXCLUDED.content, size_bytes = EXCLUDED.size_bytes RETURNING id"
    )
    params = (
        str(uuid.uuid4()),
        target_id,
        target_kind,
        str(result.get("status", "succeeded")),
        Jsonb(json.loads(body)),
        len(body.encode()),
    )
    if conn is not None:
        row = conn.execute(query, params).fetchone()
    else:
        with connection() as own:
            row = own.execute(query, params).fetchone()
    assert row is not None
    return str(row["id"] if isinstance(row, dict) else row[0])


__all__ = ["deliver_result", "register_callback"]
