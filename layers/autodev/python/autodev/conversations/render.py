"""Stored messages in the shapes they are sent in (pure functions: no database, no network).

- For the Messages API: a stored message becomes one API message, or two for an assistant
  message with tool calls (the ``tool_use`` blocks, then a user message of their
  ``tool_result`` blocks, first in that message as the API requires). Consecutive messages of
  one role are merged, so roles alternate. autodev's own notes (role ``system``) go as user
  text marked ``[autodev]``. A window that would begin with the assistant gets a short user
  note first, as the API wants a user turn first.
- For an agent step: a plain transcript, part of the appended system prompt.
- For the summariser: the messages to fold, numbered, after the previous summary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from autodev.conversations.models import Message, Role, ToolCall
from autodev.conversations.prompts import CONTINUED_NOTE

NOTE_PREFIX = "[autodev] "
# The summariser sees at most this much of one tool result: it summarises, it need not reread.
SUMMARY_TOOL_RESULT_CHARS = 2000


def counting_text(content: str, tool_calls: Sequence[ToolCall]) -> str:
    """The text whose token count stands for a message: its content and its tool calls (with
    their inputs and results) as JSON, close to what the API's blocks cost."""
    if not tool_calls:
        return content
    calls = [
        {"name": c.name, "input": c.input, "result": c.result, "is_error": c.is_error}
        for c in tool_calls
    ]
    return f"{content}\n{json.dumps(calls, separators=(',', ':'))}"


def _blocks(message: Message) -> list[tuple[str, list[dict[str, Any]]]]:
    """The API messages (role, content blocks) of one stored message."""
    if message.role is Role.ASSISTANT:
        blocks: list[dict[str, Any]] = []
        if message.content:
            blocks.append({"type": "text", "text": message.content})
        for call in message.tool_calls:
            blocks.append(
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}
            )
        found = [("assistant", blocks)]
        if message.tool_calls:
            results: list[dict[str, Any]] = [
                {
                    "type": "tool_result",
                    "tool_use_id": call.id,
                    "content": call.result,
                    **({"is_error": True} if call.is_error else {}),
                }
                for call in message.tool_calls
            ]
            found.append(("user", results))
        return found
    if message.role is Role.SYSTEM:
        return [("user", [{"type": "text", "text": NOTE_PREFIX + message.content}])]
    return [("user", [{"type": "text", "text": message.content}])]


def api_messages(window: Iterable[Message]) -> list[dict[str, Any]]:
    """The Messages API ``messages`` for a window of stored messages, oldest first."""
    merged: list[dict[str, Any]] = []
    for message in window:
        for role, blocks in _blocks(message):
            if not blocks:
                continue
            if merged and merged[-1]["role"] == role:
                merged[-1]["content"].extend(blocks)
            else:
                merged.append({"role": role, "content": list(blocks)})
    if merged and merged[0]["role"] == "assistant":
        merged.insert(0, {"role": "user", "content": [{"type": "text", "text": CONTINUED_NOTE}]})
    return merged


def _speaker(message: Message) -> str:
    if message.role is Role.USER:
        return f"User {message.user_id}" if message.user_id else "User"
    if message.role is Role.SYSTEM:
        return "autodev"
    return "Assistant"


def transcript_entry(message: Message) -> str:
    """One message as transcript text (for an agent step's system prompt)."""
    lines = [f"{_speaker(message)}: {message.content}" if message.content else _speaker(message)]
    for call in message.tool_calls:
        outcome = "error" if call.is_error else "result"
        lines.append(f"  [tool {call.name} {json.dumps(call.input)}]")
        lines.append(f"  [{outcome}] {call.result}")
    return "\n".join(lines)


def transcript(window: Iterable[Message]) -> str:
    return "\n\n".join(transcript_entry(message) for message in window)


def summary_request(previous: str | None, messages: Sequence[Message]) -> str:
    """What the summariser is asked to fold: the earlier summary, then the messages."""
    parts: list[str] = []
    if previous:
        parts.append(f"Earlier summary:\n{previous}")
    lines: list[str] = []
    for message in messages:
        lines.append(f"[{message.id}] {_speaker(message)}: {message.content}".rstrip())
        for call in message.tool_calls:
            result = call.result
            if len(result) > SUMMARY_TOOL_RESULT_CHARS:
                cut = len(result) - SUMMARY_TOOL_RESULT_CHARS
                result = f"{result[:SUMMARY_TOOL_RESULT_CHARS]} [... {cut} more characters]"
            lines.append(f"  tool {call.name} {json.dumps(call.input)} -> {result}")
    parts.append("Messages to fold into the summary:\n" + "\n".join(lines))
    return "\n\n".join(parts)
