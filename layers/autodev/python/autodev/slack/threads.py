"""Which Slack thread belongs to which workflow (table ``slack_threads``, migration 0004)."""

from __future__ import annotations

from autodev.db import connection


def remember(channel_id: str, thread_ts: str, workflow_id: str, started_by: str) -> None:
    with connection() as conn:
        conn.execute(
            "INSERT INTO slack_threads (channel_id, thread_ts, workflow_id, started_by) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (channel_id, thread_ts) DO NOTHING",
            (channel_id, thread_ts, workflow_id, started_by),
        )


def workflow_for(channel_id: str, thread_ts: str) -> str | None:
    with connection() as conn:
        row = conn.execute(
            "SELECT workflow_id FROM slack_threads WHERE channel_id = %s AND thread_ts = %s",
            (channel_id, thread_ts),
        ).fetchone()
    return str(row["workflow_id"]) if row else None


def thread_of(workflow_id: str) -> tuple[str, str] | None:
    """The (channel, thread_ts) a workflow's Slack conversation lives in, if any."""
    with connection() as conn:
        row = conn.execute(
            "SELECT channel_id, thread_ts FROM slack_threads WHERE workflow_id = %s "
            "ORDER BY created_at LIMIT 1",
            (workflow_id,),
        ).fetchone()
    return (str(row["channel_id"]), str(row["thread_ts"])) if row else None
