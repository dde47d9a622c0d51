"""Live Slack status messages, coalesced in Postgres so every process shares one budget.

One row per status message (``slack_status_messages``) holds the latest state to show
(``pending``, with a version), what was last sent (``sent_version``, ``last_sent_at``) and the
earliest time Slack will take another edit (``not_before``, moved by a 429's Retry-After).
Any process writes the pending state, in the transaction of the progress update. A sender
(any process) claims a due row with ``FOR UPDATE SKIP LOCKED`` plus a short claim lease, so
only one sends at a time; it sends the newest state and records the version it sent. States
that arrive while an edit is not yet allowed just replace the pending one, so however many
updates arrive, at most one edit a second goes out per message and the last state is the one
sent. A 429 is waited out: the row stays pending with ``not_before`` = now + Retry-After.

Who sends: the updating process tries at once; if it is too early, a daemon thread in that
process (``ensure_background_flusher``) sends when the row comes due; ``complete`` waits for
the final state to go out; and the deliver_results function sweeps due rows as a backstop
for processes that went away. A worker never sends in its own thread: its updates
(``background_slack``) only wake the daemon thread, so no task waits on Slack or on another
sender's claim, and what its process leaves pending when it exits goes out with the sweep.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

from autodev.db import connection
from autodev.observability import best_effort_failed, child_logger
from autodev.progress.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    # slack_sdk is imported where a message is sent: a worker imports this module at start-up
    # (its exit flushes what is due) and sends nothing from its own thread.
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web import WebClient

logger = child_logger(__name__)

MIN_EDIT_INTERVAL_SECONDS = 1.0
CLAIM_SECONDS = 30.0
# How often a sender waiting on another's claim looks again: a live sender releases its claim
# within a request's time; CLAIM_SECONDS is only for one that died holding it.
CLAIM_POLL_SECONDS = 0.25
ERROR_BACKOFF_SECONDS = 5.0
# The longest the background sender sleeps while a state is pending.
FLUSHER_MAX_WAIT_SECONDS = 1.0
# After this many failed sends in a row (other than 429s) the pending state is dropped.
MAX_CONSECUTIVE_ERRORS = 5

ClientFactory = Callable[[], "WebClient"]
Conn = psycopg.Connection[Any]

_SENDER_ID = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def default_client() -> WebClient:
    """The shared Slack client, without its in-process rate-limit retries.

    A 429 must come back here so its Retry-After is recorded in Postgres, where every
    process sees it, rather than slept out by one process while the others keep sending.
    """
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    from autodev.slack.client import web_client

    client = web_client()
    client.retry_handlers = [
        handler
        for handler in client.retry_handlers
        if not isinstance(handler, RateLimitErrorRetryHandler)
    ]
    return client


def put_state(
    conn: Conn,
    key: str,
    channel: str,
    thread_ts: str | None,
    message: dict[str, Any],
    *,
    ts: str | None = None,
) -> None:
    """Make ``message`` ({text, blocks}) the state to show next; inside the caller's transaction.

    ``ts`` adopts a message that is already in Slack (a workflow's thread root, say) as the
    status message, so it is edited with ``chat.update`` instead of a new one being posted.
    """
    conn.execute(
        "INSERT INTO slack_status_messages (key, channel, thread_ts, ts, pending)"
        " VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (key) DO UPDATE SET pending = EXCLUDED.pending,"
        " ts = coalesce(EXCLUDED.ts, slack_status_messages.ts),"
        " pending_version = slack_status_messages.pending_version + 1",
        (key, channel, thread_ts, ts, Jsonb(message)),
    )


def _claim(now: float, keys: list[str] | None, limit: int) -> list[dict[str, Any]]:
    with connection() as conn:
        rows = conn.execute(
            "UPDATE slack_status_messages m SET claimed_by = %(me)s,"
            " claim_expires_at = %(now)s + %(claim)s"
            " FROM (SELECT key FROM slack_status_messages"
            "   WHERE pending_version > sent_version AND not_before <= %(now)s"
            "   AND (last_sent_at IS NULL OR last_sent_at + %(interval)s <= %(now)s)"
            "   AND (claimed_by IS NULL OR claim_expires_at < %(now)s)"
            "   AND (%(keys)s::text[] IS NULL OR key = ANY(%(keys)s))"
            "   ORDER BY not_before LIMIT %(limit)s FOR UPDATE SKIP LOCKED) due"
            " WHERE m.key = due.key"
            " RETURNING m.key, m.channel, m.thread_ts, m.ts, m.pending, m.pending_version",
            {
                "me": _SENDER_ID,
                "now": now,
                "claim": CLAIM_SECONDS,
                "interval": MIN_EDIT_INTERVAL_SECONDS,
                "keys": keys,
                "limit": limit,
            },
        ).fetchall()
    return [dict(row) for row in rows]


def _retry_after(error: SlackApiError) -> float:
    headers = getattr(error.response, "headers", {}) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            first = value[0] if isinstance(value, list | tuple) else value
            try:
                return max(0.0, float(first))
            except (TypeError, ValueError):
                break
    return 1.0


def _send_one(client: WebClient, row: dict[str, Any], now: float) -> None:
    from slack_sdk.errors import SlackApiError

    message = row["pending"]
    key = row["key"]
    try:
        if row["ts"] is None:
            answer = client.chat_postMessage(
                channel=row["channel"],
                thread_ts=row["thread_ts"],
                text=message.get("text", ""),
                blocks=message.get("blocks"),
            )
            ts = str(answer["ts"])
            edited = 0
        else:
            client.chat_update(
                channel=row["channel"],
                ts=row["ts"],
                text=message.get("text", ""),
                blocks=message.get("blocks"),
            )
            ts, edited = row["ts"], 1
    except SlackApiError as error:
        status = getattr(error.response, "status_code", 0)
        if status == 429:
            wait = _retry_after(error)
            logger.info("Slack rate limited status message %s; retrying in %.0fs", key, wait)
            _release(key, not_before=now + wait, error=f"rate limited (Retry-After {wait:.0f}s)")
        else:
            reason = str(error.response.get("error") or error) if error.response else str(error)
            best_effort_failed("slack_status_message", logger, key=key, reason=reason)
            _release(key, not_before=now + ERROR_BACKOFF_SECONDS, error=reason, failed=True)
        return
    except Exception as error:  # a dropped connection: retried after a pause
        best_effort_failed("slack_status_message", logger, key=key)
        _release(key, not_before=now + ERROR_BACKOFF_SECONDS, error=str(error), failed=True)
        return
    with connection() as conn:
        conn.execute(
            "UPDATE slack_status_messages SET sent_version = %s, ts = %s, last_sent_at = %s,"
            " claimed_by = NULL, claim_expires_at = NULL, edits = edits + %s, last_error = NULL,"
            " failures = 0"
            " WHERE key = %s AND claimed_by = %s",
            (row["pending_version"], ts, now, edited, key, _SENDER_ID),
        )


def _release(key: str, *, not_before: float, error: str, failed: bool = False) -> None:
    # A state that fails MAX_CONSECUTIVE_ERRORS times in a row (a deleted channel, say) is
    # given up; a newer state tries again.
    with connection() as conn:
        conn.execute(
            "UPDATE slack_status_messages SET claimed_by = NULL, claim_expires_at = NULL,"
            " not_before = %(not_before)s, last_error = %(error)s,"
            " failures = CASE WHEN %(failed)s THEN failures + 1 ELSE failures END,"
            " sent_version = CASE WHEN %(failed)s AND failures + 1 >= %(max)s"
            "   THEN pending_version ELSE sent_version END"
            " WHERE key = %(key)s AND claimed_by = %(me)s",
            {
                "not_before": not_before,
                "error": error[:500],
                "failed": failed,
                "max": MAX_CONSECUTIVE_ERRORS,
                "key": key,
                "me": _SENDER_ID,
            },
        )
        conn.execute(
            "UPDATE slack_status_messages SET failures = 0 WHERE key = %s AND failures >= %s",
            (key, MAX_CONSECUTIVE_ERRORS),
        )


def flush_due(
    *,
    clock: Clock = SYSTEM_CLOCK,
    keys: list[str] | None = None,
    limit: int = 20,
    client_factory: ClientFactory | None = None,
) -> int:
    """Send every status message that is due (all, or those in ``keys``); returns how many."""
    rows = _claim(clock.now(), keys, limit)
    if not rows:
        return 0
    client = (client_factory or default_client)()
    for row in rows:
        _send_one(client, row, clock.now())
    return len(rows)


def next_due(keys: list[str] | None = None) -> float | None:
    """When the earliest pending status message may be sent, or None if none is pending."""
    with connection() as conn:
        row = conn.execute(
            "SELECT min(greatest(not_before, coalesce(last_sent_at + %(interval)s, 0),"
            " coalesce(claim_expires_at, 0))) AS due"
            " FROM slack_status_messages WHERE pending_version > sent_version"
            " AND (%(keys)s::text[] IS NULL OR key = ANY(%(keys)s))",
            {"interval": MIN_EDIT_INTERVAL_SECONDS, "keys": keys},
        ).fetchone()
    return None if row is None or row["due"] is None else float(row["due"])


def pending_keys(keys: list[str] | None = None) -> list[str]:
    with connection() as conn:
        rows = conn.execute(
            "SELECT key FROM slack_status_messages WHERE pending_version > sent_version"
            " AND (%(keys)s::text[] IS NULL OR key = ANY(%(keys)s))",
            {"keys": keys},
        ).fetchall()
    return [str(row["key"]) for row in rows]


def flush_until_sent(
    key: str,
    *,
    clock: Clock = SYSTEM_CLOCK,
    timeout_seconds: float = 90.0,
    client_factory: ClientFactory | None = None,
) -> bool:
    """Send ``key``'s latest state, waiting out the edit interval and 429s; True once sent."""
    deadline = clock.now() + timeout_seconds
    while True:
        flush_due(clock=clock, keys=[key], client_factory=client_factory)
        due = next_due([key])
        if due is None:
            return True
        if due > deadline:
            return False
        clock.sleep(min(max(0.01, due - clock.now()), CLAIM_POLL_SECONDS))


def message_state(key: str) -> dict[str, Any] | None:
    """The row of one status message (for status views and tests)."""
    with connection() as conn:
        row = conn.execute(
            "SELECT key, channel, thread_ts, ts, pending, pending_version, sent_version,"
            " last_sent_at, not_before, edits, last_error"
            " FROM slack_status_messages WHERE key = %s",
            (key,),
        ).fetchone()
    return dict(row) if row else None


# --- the per-process background sender ---

_flusher: threading.Thread | None = None
_flusher_stop: threading.Event | None = None  # the running sender's; set to stop it
_flusher_lock = threading.Lock()
_wake = threading.Event()


def _flusher_loop(stop: threading.Event) -> None:
    global _flusher
    try:
        while not stop.is_set():
            # Cleared before looking, so a state put after the look wakes the loop again.
            _wake.clear()
            try:
                flush_due()
                due = next_due()
            except Exception:  # keep the worker alive; the backstop sweep will catch up
                best_effort_failed("slack_status_flush", logger)
                _wake.wait(timeout=ERROR_BACKOFF_SECONDS)
                continue
            if due is None:
                with _flusher_lock:
                    if not _wake.is_set():
                        _flusher = None  # under the lock: a later wake starts a new thread
                        return
                continue
            # A row claimed by another sender is due at its claim's expiry, but a live sender
            # lets go within a request's time: look again soon rather than at the expiry.
            _wake.wait(timeout=min(FLUSHER_MAX_WAIT_SECONDS, max(0.05, due - SYSTEM_CLOCK.now())))
    finally:
        with _flusher_lock:
            if _flusher is threading.current_thread():
                _flusher = None


def ensure_background_flusher() -> None:
    """Make sure a daemon thread will send pending states when they come due."""
    global _flusher, _flusher_stop
    with _flusher_lock:
        if _flusher is None or not _flusher.is_alive():
            _flusher_stop = threading.Event()
            _flusher = threading.Thread(
                target=_flusher_loop,
                args=(_flusher_stop,),
                name="autodev-status-flusher",
                daemon=True,
            )
            _flusher.start()
        else:
            _wake.set()


def stop_background_flusher(timeout: float = 5.0) -> bool:
    """Stop this process's background sender, waiting ``timeout`` seconds at most for what it
    is sending; whether it has stopped. For a process about to let go of its database: the
    local stack stopping, a test's teardown. Left running, the sender's next look would read
    the settings again and, with no DATABASE_URL left, start an embedded Postgres under the
    default state directory, which outlives the process. What it had not sent stays pending
    in Postgres, for the delivery sweep; a later ``ensure_background_flusher`` starts anew."""
    global _flusher, _flusher_stop
    with _flusher_lock:
        thread, stop = _flusher, _flusher_stop
        _flusher = _flusher_stop = None
    if thread is None or stop is None:
        return True
    stop.set()
    _wake.set()
    thread.join(timeout)
    return not thread.is_alive()
