"""Database rows to typed results, and the columns the queries select."""

from __future__ import annotations

from typing import Any

from autodev.conversations.models import (
    Conversation,
    Memory,
    Message,
    Role,
    TokenSource,
    TokenUsage,
    ToolCall,
)

CONVERSATION_COLUMNS = (
    "id, user_id, channel_id, thread_ts, team_id, workflow_id, task_type, title, status, "
    "summary, token_count, input_tokens, output_tokens, created_at, updated_at, "
    "last_activity_at"
)
MESSAGE_COLUMNS = (
    "id, conversation_id, role, content, token_count, summarized, metadata, created_at"
)
MEMORY_COLUMNS = (
    "id, scope, user_id, team_id, memory_key, memory_value, importance, source, source_ref, "
    "source_conversation_id, token_count, created_at, updated_at"
)


def conversation(row: dict[str, Any]) -> Conversation:
    return Conversation.model_validate(row)


def message(row: dict[str, Any]) -> Message:
    meta: dict[str, Any] = dict(row["metadata"] or {})
    usage = meta.get("usage")
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        role=Role(row["role"]),
        content=row["content"],
        tool_calls=tuple(ToolCall.model_validate(c) for c in meta.get("tool_calls") or ()),
        user_id=meta.get("user_id"),
        token_count=row["token_count"],
        token_source=TokenSource(meta.get("token_source") or TokenSource.ESTIMATE),
        summarized=row["summarized"],
        usage=TokenUsage.model_validate(usage) if usage else None,
        metadata=dict(meta.get("data") or {}),
        created_at=row["created_at"],
    )


def memory(row: dict[str, Any]) -> Memory:
    return Memory(
        id=row["id"],
        scope=row["scope"],
        user_id=row["user_id"],
        team_id=row["team_id"],
        key=row["memory_key"],
        text=row["memory_value"],
        importance=row["importance"],
        source=row["source"],
        source_ref=row["source_ref"],
        conversation_id=row["source_conversation_id"],
        token_count=row["token_count"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
