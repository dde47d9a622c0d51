"""A conversation's context, within ``CONVERSATION_MAX_TOKENS``.

The context is, in order: the caller's system prompt, the repository knowledge (for agent
steps), the relevant memories, the conversation's summary, then the newest messages not yet
summarised, verbatim, as many as fit. It reads the conversation row, the memories, and the
newest live messages a page at a time through ``conversation_messages_live_idx``, newest
first, stopping at the first that does not fit: never the summarised history, so its cost
does not grow with the conversation's length. A message is the unit (a tool call is stored
with its result), so a tool call never reaches the model without its result.

Counting (see ``budget`` and ``tokens``): each stored message has its count (reported usage or
the counting endpoint); the system parts are counted when assembled (and remembered);
``ROW_OVERHEAD`` is added per message and per part. The total is checked against the limit
before anything is returned.
"""

from __future__ import annotations

from typing import Any

from autodev.config import Settings, get_settings
from autodev.conversations import memories, render, rows
from autodev.conversations.budget import ROW_OVERHEAD, Budget
from autodev.conversations.errors import ContextTooLarge
from autodev.conversations.models import (
    ConversationContext,
    Memory,
    Message,
    RepositoryKnowledge,
    Role,
)
from autodev.conversations.prompts import (
    CONTINUED_NOTE,
    KNOWLEDGE_HEADING,
    MEMORIES_HEADING,
    SUMMARY_HEADING,
    TRANSCRIPT_HEADING,
)
from autodev.conversations.tokens import TokenCounter, counter_for
from autodev.db import connection
from autodev.db.pool import Conn
from autodev.errors import InvalidInput, NotFound

_PAGE = 100


def _window(conn: Conn, conversation_id: str, room: int) -> tuple[list[Message], bool]:
    """The newest live messages that fit in ``room`` tokens (oldest first), and whether every
    live message is among them."""
    chosen: list[Message] = []
    used = 0
    before: int | None = None
    while True:
        if before is None:
            page = conn.execute(
                f"SELECT {rows.MESSAGE_COLUMNS} FROM conversation_messages "  # noqa: S608
                "WHERE conversation_id = %s AND NOT summarized AND role <> 'summary' "
                "ORDER BY id DESC LIMIT %s",
                (conversation_id, _PAGE),
            ).fetchall()
        else:
            page = conn.execute(
                f"SELECT {rows.MESSAGE_COLUMNS} FROM conversation_messages "  # noqa: S608
                "WHERE conversation_id = %s AND NOT summarized AND role <> 'summary' "
                "AND id < %s ORDER BY id DESC LIMIT %s",
                (conversation_id, before, _PAGE),
            ).fetchall()
        for row in page:
            cost = row["token_count"] + ROW_OVERHEAD
            if used + cost > room:
                chosen.reverse()
                return chosen, False
            chosen.append(rows.message(row))
            used += cost
        if len(page) < _PAGE:
            chosen.reverse()
            return chosen, True
        before = page[-1]["id"]


def _query_of(window: list[Message]) -> str:
    for message in reversed(window):
        if message.role is Role.USER:
            return message.content
    return window[-1].content if window else ""


def _cost(counter: TokenCounter, text: str, exact: bool = True) -> int:
    return counter.count(text, exact=exact)[0] + ROW_OVERHEAD if text else 0


def _memories_part(found: list[Memory]) -> str:
    return MEMORIES_HEADING + "\n" + "\n".join(f"- {memory.text}" for memory in found)


def get_context_for_api(
    conversation_id: str,
    *,
    system: str | None = None,
    user_id: str | None = None,
    query: str | None = None,
    knowledge: RepositoryKnowledge | None = None,
    max_tokens: int | None = None,
    settings: Settings | None = None,
    exact: bool = True,
) -> ConversationContext:
    """The conversation's context, at most ``max_tokens`` (default CONVERSATION_MAX_TOKENS).

    ``system``: the caller's own instructions, first. ``user_id``: whose memories (default
    the conversation's owner; the team's come with the conversation's team). ``query``: what
    memories are ranked against (default the newest user message). ``knowledge``: repository
    knowledge, for an agent step. ``exact=False``: the system parts not counted before are
    taken at an upper bound (``tokens``) rather than counted, so nothing waits on the counting
    endpoint; the context may hold fewer messages than it could. Raises ContextTooLarge when
    the fixed parts and the newest message cannot fit together.
    """
    settings = settings or get_settings()
    if max_tokens is not None and max_tokens < 1:
        raise InvalidInput("max_tokens is a whole number above 0")
    budget = Budget.of(settings, max_tokens)
    counter = counter_for(settings)
    base = (system or "").strip()
    with connection(settings) as conn:
        conversation = conn.execute(
            "SELECT user_id, team_id, summary, summary_tokens FROM conversations WHERE id = %s",
            (conversation_id,),
        ).fetchone()
        if conversation is None:
            raise NotFound(f"no conversation {conversation_id}")
        summary: str | None = conversation["summary"]
        fixed_parts: list[str] = [base] if base else []
        fixed = _cost(counter, base, exact)
        if knowledge is not None and knowledge.text:
            fixed_parts.append(f"{KNOWLEDGE_HEADING}\n{knowledge.text}")
            fixed += knowledge.token_count + _cost(counter, KNOWLEDGE_HEADING, exact)
        summary_part = f"{SUMMARY_HEADING}\n{summary}" if summary else ""
        if summary:
            fixed += conversation["summary_tokens"] + _cost(counter, SUMMARY_HEADING, exact)
        # The transcript's heading and a leading note are paid for whether or not used.
        fixed += _cost(counter, TRANSCRIPT_HEADING, exact) + _cost(counter, CONTINUED_NOTE, exact)
        if fixed > budget.max_tokens:
            raise ContextTooLarge(
                f"the system prompt, instructions and summary take {fixed} tokens, more than "
                f"the context's {budget.max_tokens}"
            )
        memory_room = min(budget.memories, budget.max_tokens - fixed)
        memory_heading = _cost(counter, MEMORIES_HEADING, exact)
        window, complete = _window(conn, conversation_id, budget.max_tokens - fixed - memory_room)
        has_live = bool(window) or not complete
        if not window and has_live:
            # Without memories' share, the newest message may fit.
            memory_room = 0
            window, complete = _window(conn, conversation_id, budget.max_tokens - fixed)
            if not window:
                raise ContextTooLarge(
                    "the newest message does not fit beside the system prompt, instructions "
                    f"and summary ({fixed} tokens) within {budget.max_tokens} tokens"
                )
        chosen = memories.relevant(
            conn,
            user_id or conversation["user_id"],
            conversation["team_id"],
            query if query is not None else _query_of(window),
            memory_room - memory_heading,
        )
    used_window = sum(message.token_count + ROW_OVERHEAD for message in window)
    memory_tokens = (
        sum(memory.token_count + ROW_OVERHEAD for memory in chosen) + memory_heading
        if chosen
        else 0
    )
    parts = list(fixed_parts)
    if chosen:
        parts.append(_memories_part(chosen))
    if summary_part:
        parts.append(summary_part)
    messages: list[dict[str, Any]] = render.api_messages(window)
    appended = list(parts)
    if window:
        appended.append(f"{TRANSCRIPT_HEADING}\n{render.transcript(window)}")
    total = fixed + memory_tokens + used_window
    if total > budget.max_tokens:  # the window was chosen to fit; this keeps the promise
        raise RuntimeError(f"context of {total} tokens assembled for {budget.max_tokens}")
    return ConversationContext(
        conversation_id=conversation_id,
        system="\n\n".join(parts),
        messages=messages,
        appended_system_prompt="\n\n".join(appended),
        token_count=total,
        token_limit=budget.max_tokens,
        summary=summary,
        message_ids=tuple(message.id for message in window),
        memory_ids=tuple(memory.id for memory in chosen),
        complete=complete,
    )
