"""Registered callbacks (``task_callbacks``): where a task's or workflow's result goes."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from autodev.db import connection, in_transaction
from autodev.errors import InvalidInput, NotFound

TARGET_KINDS = frozenset({"task", "workflow"})
CALLBACK_TYPES = frozenset({"slack", "webhook", "event"})

Conn = psycopg.Connection[Any]


def check_kind(target_kind: str) -> None:
    if target_kind not in TARGET_KINDS:
        raise InvalidInput(f"target kind must be task or workflow, not {target_kind!r}")


def _slack_config(spec: dict[str, Any]) -> dict[str, Any]:
    # The spec's JavaScript names (slackChannel, slackThreadTs) are accepted too.
    channel = spec.get("channel") or spec.get("slackChannel") or spec.get("slack_channel")
    thread = spec.get("thread_ts") or spec.get("slackThreadTs") or spec.get("slack_thread_ts")
    if not isinstance(channel, str) or not channel.strip():
        raise InvalidInput("a slack callback needs a channel")
    return {"channel": channel.strip(), "thread_ts": str(thread) if thread else None}


def _webhook_config(spec: dict[str, Any]) -> tuple[dict[str, Any], str]:
    from autodev.config import get_settings
    from autodev.webhooks.guard import parse_url, refusal_reason
    from autodev.webhooks.signing import check_secret, new_secret

    url = spec.get("url")
    parts = parse_url(str(url) if url is not None else "")
    host = str(parts.hostname)
    allowed = host.lower() in {h.lower() for h in get_settings().webhook_allowed_hosts}
    if parts.scheme != "https" and not allowed:
        raise InvalidInput("a webhook URL must use https")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and not allowed:
        reason = refusal_reason(literal)
        if reason is not None:
            raise InvalidInput(f"webhook target refused: {reason}")
    secret = spec.get("secret")
    secret = check_secret(str(secret)) if secret else new_secret()
    return {"url": str(url).strip()}, secret


def _event_config(spec: dict[str, Any]) -> dict[str, Any]:
    bus = spec.get("bus")
    if bus is not None and (not isinstance(bus, str) or not bus.strip()):
        raise InvalidInput("an event callback's bus must be a bus name")
    return {"bus": bus.strip()} if isinstance(bus, str) else {}


def register_callback(
    target_id: str,
    spec: dict[str, Any],
    *,
    target_kind: str = "workflow",
    conn: Conn | None = None,
) -> str:
    """Register ``{type: slack|webhook|event, ...}`` for a task or workflow; returns its id.

    slack: ``channel`` (or ``slackChannel``), optional ``thread_ts``. webhook: ``url`` (https;
    checked again at delivery), optional ``secret`` (``whsec_...``; generated if absent, read
    it back with ``callback_secret``). event: optional ``bus`` (else AUTODEV_EVENT_BUS).
    """
    check_kind(target_kind)
    if not isinstance(spec, dict):
        raise InvalidInput("a callback is an object with a type")
    if not str(target_id or "").strip():
        raise InvalidInput("a callback needs a task or workflow id")
    kind = spec.get("type")
    secret: str | None = None
    if kind == "slack":
        config = _slack_config(spec)
    elif kind == "webhook":
        config, secret = _webhook_config(spec)
    elif kind == "event":
        config = _event_config(spec)
    else:
        raise InvalidInput("a callback's type must be slack, webhook or event")
    callback_id = str(uuid.uuid4())
    query = (
        "INSERT INTO task_callbacks (id, target_id, target_kind, callback_type, config, secret)"
        " VALUES (%s, %s, %s, %s, %s, %s)"
    )
    params = (callback_id, str(target_id), target_kind, kind, Jsonb(config), secret)
    with in_transaction(conn) as tx:
        tx.execute(query, params)
    return callback_id


def callbacks_for(conn: Conn, target_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, callback_type, config FROM task_callbacks"
        " WHERE target_id = %s AND active ORDER BY created_at",
        (target_id,),
    ).fetchall()
    return [dict(row) for row in rows]


def callback_secret(callback_id: str) -> str:
    """A webhook callback's signing secret, for its owner to configure the receiver."""
    with connection() as conn:
        row = conn.execute(
            "SELECT secret FROM task_callbacks WHERE id::text = %s AND callback_type = 'webhook'",
            (callback_id,),
        ).fetchone()
    if row is None or not row["secret"]:
        raise NotFound(f"no webhook callback {callback_id}")
    return str(row["secret"])
