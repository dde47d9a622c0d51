"""The delivery outbox (``result_outbox``): at-least-once delivery with backoff over hours.

A delivery is claimed with ``FOR UPDATE SKIP LOCKED`` and a claim lease (so two
deliver_results runs never send the same delivery at once, and a run that dies mid-send
releases it when the lease lapses), sent, and then marked delivered, or scheduled again
after ``BACKOFF_SECONDS[attempt]`` (with jitter), or dead once its attempts are spent or
the failure cannot heal (a refused target, an unknown Slack channel). The reason stays on
the row for ``delivery_status``, which ``/workflow status`` shows.
"""

from __future__ import annotations

import random
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from autodev.callbacks.models import Delivery
from autodev.db import connection
from autodev.observability import Metric, child_logger, count

logger = child_logger(__name__)

# Waits after the 1st, 2nd, ... failed attempt: about 17 hours in all, then dead.
BACKOFF_SECONDS = (30, 120, 600, 1800, 3600, 7200, 10800, 14400, 21600)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
CLAIM_SECONDS = 120
JITTER = 0.1

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    delivered: bool
    error: str | None = None
    status: int | None = None
    permanent: bool = False  # no retry can help
    retry_after: float | None = None  # the receiver asked for this wait


def enqueue(
    conn: Conn,
    delivery_id: str,
    result_id: str,
    callback_id: str | None,
    target_id: str,
    channel: str,
    payload: dict[str, Any],
) -> None:
    """Queue one delivery in the caller's transaction; an existing id is left alone."""
    conn.execute(
        "INSERT INTO result_outbox (id, result_id, callback_id, target_id, channel, payload,"
        " max_attempts) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
        (delivery_id, result_id, callback_id, target_id, channel, Jsonb(payload), MAX_ATTEMPTS),
    )


def backoff(attempts: int) -> timedelta:
    """The wait after ``attempts`` failed attempts, with jitter so retries spread out."""
    base = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
    return timedelta(seconds=base * (1 + random.uniform(-JITTER, JITTER)))  # noqa: S311


def claim_due(now: datetime, limit: int, ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Claim up to ``limit`` due deliveries (all, or those in ``ids``), counting the attempt."""
    with connection() as conn:
        rows = conn.execute(
            "UPDATE result_outbox o SET claimed_until = %(until)s, attempts = o.attempts + 1"
            " FROM (SELECT id FROM result_outbox WHERE status = 'pending'"
            "   AND next_attempt_at <= %(now)s"
            "   AND (claimed_until IS NULL OR claimed_until < %(now)s)"
            "   AND (%(ids)s::uuid[] IS NULL OR id = ANY(%(ids)s::uuid[]))"
            "   ORDER BY next_attempt_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED) due"
            " WHERE o.id = due.id"
            " RETURNING o.id, o.result_id, o.callback_id, o.target_id, o.channel, o.payload,"
            " o.attempts, o.max_attempts",
            {
                "now": now,
                "until": now + timedelta(seconds=CLAIM_SECONDS),
                "ids": ids,
                "limit": limit,
            },
        ).fetchall()
        claimed = [dict(row) for row in rows]
        callback_ids = [row["callback_id"] for row in claimed if row["callback_id"]]
        configs = {}
        if callback_ids:
            for cb in conn.execute(
                "SELECT id, config, secret FROM task_callbacks WHERE id = ANY(%s)",
                (callback_ids,),
            ).fetchall():
                configs[cb["id"]] = dict(cb)
    for row in claimed:
        callback = configs.get(row["callback_id"]) or {}
        row["config"] = callback.get("config") or {}
        row["secret"] = callback.get("secret")
        row["id"] = str(row["id"])
    return claimed


def record(row: dict[str, Any], outcome: Outcome, now: datetime) -> str:
    """Store an attempt's outcome; returns the delivery's new status."""
    if outcome.delivered:
        status, next_at, error = "delivered", now, None
    elif outcome.permanent or row["attempts"] >= row["max_attempts"]:
        status, next_at = "dead", now
        spent = "" if outcome.permanent else f" (gave up after {row['attempts']} attempts)"
        error = f"{outcome.error}{spent}"
    else:
        status, error = "pending", outcome.error
        wait = backoff(row["attempts"])
        if outcome.retry_after is not None:
            wait = max(wait, timedelta(seconds=outcome.retry_after))
        next_at = now + wait
    with connection() as conn:
        conn.execute(
            "UPDATE result_outbox SET status = %s, next_attempt_at = %s, claimed_until = NULL,"
            " last_error = %s, last_status = %s,"
            " delivered_at = CASE WHEN %s THEN %s ELSE delivered_at END WHERE id = %s",
            (
                status,
                next_at,
                (error or "")[:1000] or None,
                outcome.status,
                outcome.delivered,
                now,
                row["id"],
            ),
        )
    if status == "dead":
        logger.warning("delivery %s (%s) is dead: %s", row["id"], row["channel"], error)
        count(Metric.DELIVERIES_DEAD, channel=str(row["channel"]))
    return status


def _destination(channel: str, config: dict[str, Any]) -> str:
    if channel == "webhook":
        # Scheme, host and path only: a query string may carry a receiver's token.
        parts = urllib.parse.urlsplit(str(config.get("url", "")))
        return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"
    if channel == "slack":
        return str(config.get("channel", ""))
    from autodev import events

    return f"EventBridge bus {config.get('bus') or events.bus_name()}"


def delivery_status(target_id: str) -> list[Delivery]:
    """Every delivery of a task's or workflow's result: where, status, attempts, last error."""
    with connection() as conn:
        rows = conn.execute(
            "SELECT o.id, o.channel, o.status, o.attempts, o.max_attempts, o.last_error,"
            " o.last_status, o.next_attempt_at, o.delivered_at, o.created_at, c.config"
            " FROM result_outbox o LEFT JOIN task_callbacks c ON c.id = o.callback_id"
            " WHERE o.target_id = %s ORDER BY o.created_at, o.id",
            (target_id,),
        ).fetchall()
    return [
        Delivery(
            id=str(row["id"]),
            channel=row["channel"],
            destination=_destination(row["channel"], row["config"] or {}),
            status=row["status"],
            attempts=row["attempts"],
            max_attempts=row["max_attempts"],
            last_error=row["last_error"],
            last_status=row["last_status"],
            next_attempt_at=row["next_attempt_at"].isoformat()
            if row["status"] == "pending"
            else None,
            delivered_at=row["delivered_at"].isoformat() if row["delivered_at"] else None,
        )
        for row in rows
    ]


def utcnow() -> datetime:
    return datetime.now(UTC)
