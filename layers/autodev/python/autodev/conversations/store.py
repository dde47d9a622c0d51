"""Conversations and their messages: create, add, list, archive, delete.

One conversation per Slack thread (its channel and thread timestamp), with the workflow
started in it and the Slack team. Conversations outside Slack have an id of their own.
A conversation's ``token_count`` is its live size: its current summary and the messages not
yet folded into one; each addition adds its messages' counts under the conversation row's
lock, and a summary recomputes it (see ``summaries``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field

from autodev.config import Settings, get_settings
from autodev.conversations import render, rows, summaries
from autodev.conversations.budget import Budget
from autodev.conversations.models import (
    Conversation,
    Message,
    Role,
    TokenSource,
    TokenUsage,
    ToolCall,
)
from autodev.conversations.tokens import counter_for
from autodev.db import connection
from autodev.errors import InvalidInput, NotFound
from autodev.observability import child_logger

log = child_logger(__name__)

_MAX_ID = 200


class NewMessage(BaseModel):
    """A message to add. ``token_count``: the content's real count when the caller has it
    (e.g. ``output_tokens`` of the API call that produced exactly this text); otherwise it is
    counted. ``usage``: what the model call behind it consumed (the API's or Claude Code's
    report), kept with it and added to the conversation's totals."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str = ""
    user_id: str | None = Field(default=None, max_length=_MAX_ID)
    tool_calls: tuple[ToolCall, ...] = ()
    token_count: int | None = Field(default=None, ge=0)
    usage: TokenUsage | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


def _check_id(name: str, value: str | None, *, required: bool = False) -> None:
    if value is None:
        if required:
            raise InvalidInput(f"{name} is required")
        return
    if not value.strip() or len(value) > _MAX_ID:
        raise InvalidInput(f"{name} must be 1 to {_MAX_ID} characters")


def get_or_create_conversation(
    user_id: str,
    *,
    channel_id: str | None = None,
    thread_ts: str | None = None,
    team_id: str | None = None,
    workflow_id: str | None = None,
    task_type: str | None = None,
    title: str | None = None,
    conversation_id: str | None = None,
    settings: Settings | None = None,
) -> Conversation:
    """The conversation of a Slack thread (``channel_id`` + ``thread_ts``), or of an id, made
    on first use. Later calls fill what it lacked (the workflow, the team) and make an
    archived conversation active again: a new message in its thread resumes it."""
    _check_id("user_id", user_id, required=True)
    for name, value in (
        ("channel_id", channel_id),
        ("thread_ts", thread_ts),
        ("team_id", team_id),
        ("workflow_id", workflow_id),
        ("conversation_id", conversation_id),
    ):
        _check_id(name, value)
    if thread_ts is not None and channel_id is None:
        raise InvalidInput("a Slack thread needs its channel_id too")
    if title is not None:
        title = title.strip()[:200] or None
    values = (
        conversation_id or str(uuid.uuid4()),
        user_id,
        channel_id,
        thread_ts,
        team_id,
        workflow_id,
        task_type,
        title,
    )
    conflict = (
        "(channel_id, thread_ts) WHERE thread_ts IS NOT NULL" if thread_ts is not None else "(id)"
    )
    try:
        row = _upsert_conversation(conflict, values, settings)
    except psycopg.errors.UniqueViolation:
        raise InvalidInput(f"conversation id {conversation_id} belongs to another thread") from None
    return rows.conversation(row)


def _upsert_conversation(
    conflict: str, values: tuple[str | None, ...], settings: Settings | None
) -> dict[str, Any]:
    with connection(settings) as conn:
        row = conn.execute(
            "INSERT INTO conversations (id, user_id, channel_id, thread_ts, team_id, "  # noqa: S608
            "workflow_id, task_type, title) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            f"ON CONFLICT {conflict} DO UPDATE SET "
            "workflow_id = coalesce(conversations.workflow_id, EXCLUDED.workflow_id), "
            "team_id = coalesce(conversations.team_id, EXCLUDED.team_id), "
            "task_type = coalesce(conversations.task_type, EXCLUDED.task_type), "
            "title = coalesce(conversations.title, EXCLUDED.title), "
            "status = 'active', last_activity_at = now(), updated_at = now() "
            f"RETURNING {rows.CONVERSATION_COLUMNS}",
            values,
        ).fetchone()
    assert row is not None
    return row


def get_conversation(conversation_id: str, settings: Settings | None = None) -> Conversation:
    with connection(settings) as conn:
        row = conn.execute(
            f"SELECT {rows.CONVERSATION_COLUMNS} FROM conversations WHERE id = %s",  # noqa: S608
            (conversation_id,),
        ).fetchone()
    if row is None:
        raise NotFound(f"no conversation {conversation_id}")
    return rows.conversation(row)


def conversation_for_thread(
    channel_id: str, thread_ts: str, settings: Settings | None = None
) -> Conversation | None:
    with connection(settings) as conn:
        row = conn.execute(
            f"SELECT {rows.CONVERSATION_COLUMNS} FROM conversations "  # noqa: S608
            "WHERE channel_id = %s AND thread_ts = %s",
            (channel_id, thread_ts),
        ).fetchone()
    return rows.conversation(row) if row else None


def conversation_for_workflow(
    workflow_id: str, settings: Settings | None = None
) -> Conversation | None:
    """The conversation a workflow was started in (the newest, should there be several)."""
    with connection(settings) as conn:
        row = conn.execute(
            f"SELECT {rows.CONVERSATION_COLUMNS} FROM conversations "  # noqa: S608
            "WHERE workflow_id = %s ORDER BY created_at DESC LIMIT 1",
            (workflow_id,),
        ).fetchone()
    return rows.conversation(row) if row else None


def list_conversations(
    user_id: str,
    *,
    include_archived: bool = False,
    limit: int = 50,
    settings: Settings | None = None,
) -> list[Conversation]:
    """The user's conversations, most recently active first."""
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit is a whole number from 1 to 1000")
    with connection(settings) as conn:
        found = conn.execute(
            f"SELECT {rows.CONVERSATION_COLUMNS} FROM conversations "  # noqa: S608
            "WHERE user_id = %s AND (%s OR status = 'active') "
            "ORDER BY last_activity_at DESC LIMIT %s",
            (user_id, include_archived, limit),
        ).fetchall()
    return [rows.conversation(row) for row in found]


def archive_conversation(
    conversation_id: str, user_id: str, settings: Settings | None = None
) -> Conversation:
    """Archive one of the user's conversations: kept, but out of their list."""
    with connection(settings) as conn:
        row = conn.execute(
            "UPDATE conversations SET status = 'archived', updated_at = now() "  # noqa: S608
            f"WHERE id = %s AND user_id = %s RETURNING {rows.CONVERSATION_COLUMNS}",
            (conversation_id, user_id),
        ).fetchone()
    if row is None:
        raise NotFound(f"no conversation {conversation_id} of yours")
    return rows.conversation(row)


def delete_conversation(
    conversation_id: str, user_id: str, settings: Settings | None = None
) -> None:
    """Delete one of the user's conversations and its messages (memories taken from it stay,
    without their link to it)."""
    with connection(settings) as conn:
        row = conn.execute(
            "DELETE FROM conversations WHERE id = %s AND user_id = %s RETURNING id",
            (conversation_id, user_id),
        ).fetchone()
    if row is None:
        raise NotFound(f"no conversation {conversation_id} of yours")


def list_messages(
    conversation_id: str,
    *,
    include_summarized: bool = True,
    limit: int = 100,
    settings: Settings | None = None,
) -> list[Message]:
    """The newest ``limit`` messages (summaries included), oldest of them first."""
    if not 1 <= limit <= 10_000:
        raise InvalidInput("limit is a whole number from 1 to 10000")
    with connection(settings) as conn:
        found = conn.execute(
            f"SELECT {rows.MESSAGE_COLUMNS} FROM conversation_messages "  # noqa: S608
            "WHERE conversation_id = %s AND (%s OR NOT summarized) ORDER BY id DESC LIMIT %s",
            (conversation_id, include_summarized, limit),
        ).fetchall()
    return [rows.message(row) for row in reversed(found)]


def _validated(message: NewMessage) -> None:
    if message.role is Role.SUMMARY:
        raise InvalidInput("summaries are written by the summariser, not added")
    if not message.content.strip() and not message.tool_calls:
        raise InvalidInput("a message needs content or tool calls")
    if message.tool_calls and message.role is not Role.ASSISTANT:
        raise InvalidInput("only the assistant's messages carry tool calls")
    ids = [call.id for call in message.tool_calls]
    if len(set(ids)) != len(ids):
        raise InvalidInput("each tool call of a message needs its own id")
    stored = {
        "metadata": message.metadata,
        "tool_calls": [call.model_dump() for call in message.tool_calls],
    }
    try:
        json.dumps(stored, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInput("a message's metadata and tool inputs must be JSON") from None
    # Postgres text and jsonb hold no NUL character.
    if _has_nul(message.content) or _has_nul(stored):
        raise InvalidInput("a message cannot contain NUL characters")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def add_message(
    conversation_id: str,
    role: Role | str,
    content: str = "",
    *,
    user_id: str | None = None,
    tool_calls: Sequence[ToolCall] = (),
    token_count: int | None = None,
    usage: TokenUsage | None = None,
    metadata: dict[str, Any] | None = None,
    summarize: bool = True,
    settings: Settings | None = None,
) -> Message:
    """Add one message (see ``NewMessage``); past the threshold, summarise (see
    ``summaries``) unless ``summarize`` is False.

    Summarising calls the model, in this call: a caller that must answer quickly (a Slack
    request) passes ``summarize=False`` and calls ``summarize_if_needed`` after answering.
    A tool call is added with its result (``ToolCall.result``), in one message.
    """
    try:
        new = NewMessage(
            role=Role(role),
            content=content,
            user_id=user_id,
            tool_calls=tuple(tool_calls),
            token_count=token_count,
            usage=usage,
            metadata=metadata or {},
        )
    except ValueError as error:
        raise InvalidInput(f"not a valid message: {_first_error(error)}") from None
    return add_messages(conversation_id, [new], summarize=summarize, settings=settings)[0]


def _first_error(error: ValueError) -> str:
    text = str(error).strip().splitlines()
    return text[1].strip() if len(text) > 1 else (text[0] if text else "invalid")


def add_messages(
    conversation_id: str,
    messages: Sequence[NewMessage],
    *,
    summarize: bool = True,
    settings: Settings | None = None,
) -> list[Message]:
    """Add messages in one transaction, in order; all or none."""
    if not messages:
        return []
    settings = settings or get_settings()
    budget = Budget.of(settings)
    counter = counter_for(settings)
    prepared: list[tuple[NewMessage, int, TokenSource]] = []
    # Counted before the transaction: counting is a network call, and nothing waits on it.
    for message in messages:
        _validated(message)
        if message.token_count is not None:
            tokens, source = message.token_count, TokenSource.USAGE
        else:
            tokens, source = counter.count(
                render.counting_text(message.content, message.tool_calls)
            )
        if tokens > budget.message_limit:
            raise InvalidInput(
                f"a message of {tokens} tokens is more than a conversation takes at once "
                f"({budget.message_limit}, a quarter of CONVERSATION_MAX_TOKENS); "
                "store large content as an artifact and add a summary of it"
            )
        prepared.append((message, tokens, source))
    metas = [
        Jsonb(
            {
                "token_source": source.value,
                **({"user_id": message.user_id} if message.user_id else {}),
                **(
                    {"tool_calls": [call.model_dump() for call in message.tool_calls]}
                    if message.tool_calls
                    else {}
                ),
                **({"usage": message.usage.model_dump()} if message.usage else {}),
                **({"data": message.metadata} if message.metadata else {}),
            }
        )
        for message, _, source in prepared
    ]
    sent = sum(message.usage.sent for message, _, _ in prepared if message.usage)
    produced = sum(message.usage.output_tokens for message, _, _ in prepared if message.usage)
    added_tokens = sum(tokens for _, tokens, _ in prepared)
    with connection(settings) as conn:
        # The row lock orders concurrent additions and the summariser's claim (see summaries).
        state = conn.execute(
            "SELECT status FROM conversations WHERE id = %s FOR UPDATE", (conversation_id,)
        ).fetchone()
        if state is None:
            raise NotFound(f"no conversation {conversation_id}")
        if state["status"] != "active":
            raise InvalidInput(
                f"conversation {conversation_id} is archived; a new message in its thread "
                "resumes it"
            )
        inserted = conn.execute(
            "INSERT INTO conversation_messages (conversation_id, role, content, token_count, "  # noqa: S608
            "metadata) SELECT %s, role, content, tokens, meta "
            "FROM unnest(%s::text[], %s::text[], %s::int[], %s::jsonb[]) "
            "WITH ORDINALITY AS m(role, content, tokens, meta, n) ORDER BY n "
            f"RETURNING {rows.MESSAGE_COLUMNS}",
            (
                conversation_id,
                [message.role.value for message, _, _ in prepared],
                [message.content for message, _, _ in prepared],
                [tokens for _, tokens, _ in prepared],
                metas,
            ),
        ).fetchall()
        after = conn.execute(
            "UPDATE conversations SET token_count = token_count + %s, "
            "input_tokens = input_tokens + %s, output_tokens = output_tokens + %s, "
            "last_activity_at = now(), updated_at = now() WHERE id = %s "
            "RETURNING token_count, coalesce(summary_claimed_until > now(), false) AS claimed",
            (added_tokens, sent, produced, conversation_id),
        ).fetchone()
    assert after is not None
    added = sorted((rows.message(row) for row in inserted), key=lambda m: m.id)
    if summarize and after["token_count"] > budget.threshold and not after["claimed"]:
        summaries.summarize_if_needed(conversation_id, settings)
    return added
