"""The typed results of the conversation manager."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    """Who a stored message is from. ``system`` is autodev's own note in the thread (a
    workflow started, a step's summary); ``summary`` stands for older messages it replaced."""

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    SUMMARY = "summary"


class TokenSource(StrEnum):
    """Where a token count came from, best first."""

    USAGE = "usage"  # reported by the Messages API or Claude Code for what was sent/produced
    COUNTED = "count_tokens"  # the Messages API's token counting endpoint
    ESTIMATE = "estimate"  # tokens.estimate_tokens, only when neither was reachable


class MemoryScope(StrEnum):
    USER = "user"
    TEAM = "team"


class MemorySource(StrEnum):
    REQUEST = "request"  # someone asked autodev to remember it
    CONVERSATION = "conversation"  # extracted from a conversation
    WORKFLOW = "workflow"  # extracted from a workflow's summary


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class TokenUsage(_Frozen):
    """What one model call consumed, as the API (or Claude Code) reported it."""

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cache_read_input_tokens: int = Field(default=0, ge=0)
    cache_creation_input_tokens: int = Field(default=0, ge=0)

    @property
    def sent(self) -> int:
        """Every input token of the call, cached or not: what was sent to the model."""
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens

    @classmethod
    def of(cls, usage: Any) -> TokenUsage:
        """From an SDK ``Usage`` (or a dict of the same fields); missing fields count 0."""

        def field(name: str) -> int:
            value = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, None)
            return int(value or 0)

        return cls(
            input_tokens=field("input_tokens"),
            output_tokens=field("output_tokens"),
            cache_read_input_tokens=field("cache_read_input_tokens"),
            cache_creation_input_tokens=field("cache_creation_input_tokens"),
        )


class ToolCall(_Frozen):
    """A tool call and its result, stored together in one message so they cannot part."""

    id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    input: dict[str, Any] = Field(default_factory=dict)
    result: str
    is_error: bool = False


class Conversation(_Frozen):
    id: str
    user_id: str
    channel_id: str | None
    thread_ts: str | None
    team_id: str | None
    workflow_id: str | None
    task_type: str | None
    title: str | None
    status: str
    summary: str | None
    # Tokens of what the context can hold now: the summary and the messages it did not replace.
    token_count: int
    # Tokens the conversation's model calls consumed (sent) and produced, as reported.
    input_tokens: int
    output_tokens: int
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime


class Message(_Frozen):
    id: int
    conversation_id: str
    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    user_id: str | None = None
    token_count: int
    token_source: TokenSource
    # Folded into a summary: no longer part of the context.
    summarized: bool
    usage: TokenUsage | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class Summary(_Frozen):
    """A stored summary: it replaces every message up to ``through_message_id``."""

    message_id: int
    conversation_id: str
    text: str
    token_count: int
    replaced: int
    through_message_id: int
    model: str


class Memory(_Frozen):
    id: int
    scope: MemoryScope
    # The owner of a user memory; who added it, for a team memory.
    user_id: str
    team_id: str | None
    key: str
    text: str
    importance: int
    source: MemorySource
    source_ref: str | None
    conversation_id: str | None
    token_count: int
    created_at: datetime
    updated_at: datetime


class RepositoryKnowledge(_Frozen):
    """The organisation's prompt and the repository's instructions file, for an agent step."""

    text: str
    sources: tuple[str, ...]
    token_count: int
    truncated: bool = False


class ConversationContext(_Frozen):
    """A conversation's context, within ``token_limit`` tokens, in the two forms it is used.

    ``system`` and ``messages`` are what ``client.messages.create`` takes; an agent step takes
    ``appended_system_prompt`` (Claude Code's preset system prompt plus this text).
    """

    conversation_id: str
    system: str
    messages: list[dict[str, Any]]
    appended_system_prompt: str
    token_count: int
    token_limit: int
    summary: str | None
    message_ids: tuple[int, ...]
    memory_ids: tuple[int, ...]
    # False when older messages not yet summarised did not fit and were left out.
    complete: bool = True
