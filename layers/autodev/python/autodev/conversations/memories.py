"""Memories: facts worth keeping across sessions, per user and per Slack team.

A memory is added on request (``remember``) or extracted by Claude from a conversation or a
workflow's summary (``extract_memories``). Each is stored with its source and deduplicated by
a normalised key (``normalise_key``: Unicode-normalised, case-folded, punctuation dropped,
spaces collapsed), so "Run tests with RunLocalTests." and "run tests with runlocaltests"
are one memory; remembering it again updates its text and keeps the higher importance.
A memory added with a team belongs to the team (``user_id`` is who added it); without one,
to the user. Users list and delete their own (``list_memories``, ``forget``). Text that looks
like a credential is refused: memories reach every agent's system prompt.

Relevance (``relevant``), simple on purpose: the words of a text are its case-folded runs of
letters and digits of three characters or more, less a few common words. A memory's score is
the number of words it shares with the query plus its importance / 10. Those sharing a word
are candidates, and so are those of importance 8 or more (always worth knowing); with no query
words, every memory is. The best scores come first (newest on ties), within the context's
memory budget and at most ``MAX_MEMORIES``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from autodev.config import Settings, get_settings
from autodev.conversations import rows
from autodev.conversations.budget import MAX_MEMORIES, MEMORY_CANDIDATES, ROW_OVERHEAD
from autodev.conversations.calls import create_message
from autodev.conversations.models import Memory, MemoryScope, MemorySource
from autodev.conversations.prompts import MEMORY_SYSTEM
from autodev.conversations.tokens import counter_for
from autodev.db import connection
from autodev.db.pool import Conn
from autodev.errors import InvalidInput, NotFound
from autodev.observability import child_logger

log = child_logger(__name__)

MAX_MEMORY_CHARS = 1000
MAX_KEY_CHARS = 300
ALWAYS_IMPORTANCE = 8
DEFAULT_IMPORTANCE = 5
# The extraction's answer: a short JSON list.
_EXTRACTION_MAX_TOKENS = 1024

_STOP_WORDS = frozenset(
    {
        *("the", "and", "for", "with", "that", "this", "are", "was", "were", "our", "you"),
        *("your", "has", "have", "had", "not", "but", "all", "can", "its", "into", "from"),
        *("they", "them", "their", "when", "what", "which", "who", "will", "would", "should"),
        *("could", "about", "also", "use", "uses", "used", "any"),
    }
)
_WORD = re.compile(r"[^\W_]{3,}")
_NOT_WORD = re.compile(r"[\W_]+")
# Shapes of credentials that must not become memories (Slack, Anthropic, AWS, GitHub tokens;
# private keys; "password: ..." and the like).
_SECRET = re.compile(
    r"xox[abposr]-|sk-ant-|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{20,}|"
    r"-----BEGIN [A-Z ]*PRIVATE KEY|\b(password|passwd|secret|api[_ -]?key|token)\s*[:=]\s*\S",
    re.IGNORECASE,
)


def normalise_key(text: str) -> str:
    """The deduplication key of a memory's text."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NOT_WORD.sub(" ", folded).strip()[:MAX_KEY_CHARS]


def words(text: str) -> set[str]:
    """The words relevance compares (see the module's docstring)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return {word for word in _WORD.findall(folded) if word not in _STOP_WORDS}


def score(memory_words: set[str], importance: int, query_words: set[str]) -> float | None:
    """A memory's relevance to a query, or None when it is not a candidate."""
    shared = len(memory_words & query_words)
    if query_words and shared == 0 and importance < ALWAYS_IMPORTANCE:
        return None
    return shared + importance / 10


def rank(memories: Iterable[Memory], query: str, budget_tokens: int) -> list[Memory]:
    """The relevant memories, best first, within ``budget_tokens`` and ``MAX_MEMORIES``."""
    query_words = words(query)
    scored = []
    for memory in memories:
        found = score(words(memory.text), memory.importance, query_words)
        if found is not None:
            scored.append((found, memory.updated_at, memory))
    scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
    chosen: list[Memory] = []
    used = 0
    for _, _, memory in scored:
        cost = memory.token_count + ROW_OVERHEAD
        if used + cost > budget_tokens:
            continue  # a shorter one further down may still fit
        chosen.append(memory)
        used += cost
        if len(chosen) >= MAX_MEMORIES:
            break
    return chosen


def relevant(
    conn: Conn, user_id: str, team_id: str | None, query: str, budget_tokens: int
) -> list[Memory]:
    """The user's and the team's memories most relevant to ``query`` (see ``rank``)."""
    if budget_tokens <= 0:
        return []
    found = conn.execute(
        f"SELECT {rows.MEMORY_COLUMNS} FROM user_memories "  # noqa: S608 - constant columns
        "WHERE ((scope = 'user' AND user_id = %s) OR (scope = 'team' AND team_id = %s)) "
        "AND (expires_at IS NULL OR expires_at > now()) "
        "ORDER BY importance DESC, updated_at DESC LIMIT %s",
        (user_id, team_id, MEMORY_CANDIDATES),
    ).fetchall()
    return rank((rows.memory(row) for row in found), query, budget_tokens)


def _checked_text(text: str) -> tuple[str, str]:
    clean = " ".join(text.split())
    if not clean:
        raise InvalidInput("a memory needs some text")
    if len(clean) > MAX_MEMORY_CHARS:
        raise InvalidInput(f"a memory is at most {MAX_MEMORY_CHARS} characters")
    if _SECRET.search(clean):
        raise InvalidInput("that looks like a credential; autodev does not remember secrets")
    key = normalise_key(clean)
    if not key:
        raise InvalidInput("a memory needs some letters or digits")
    return clean, key


def remember(
    user_id: str,
    text: str,
    *,
    team_id: str | None = None,
    importance: int = DEFAULT_IMPORTANCE,
    source: MemorySource = MemorySource.REQUEST,
    source_ref: str | None = None,
    conversation_id: str | None = None,
    settings: Settings | None = None,
) -> Memory:
    """Store a fact for the user (or, with ``team_id``, for the team); the same fact again
    (same normalised key) updates the one stored."""
    if not user_id:
        raise InvalidInput("a memory needs the user who adds it")
    if not 1 <= importance <= 10:
        raise InvalidInput("a memory's importance is a whole number from 1 to 10")
    clean, key = _checked_text(text)
    settings = settings or get_settings()
    tokens, _ = counter_for(settings).count(clean)
    scope = MemoryScope.TEAM if team_id else MemoryScope.USER
    conflict = (
        "(team_id, memory_key) WHERE scope = 'team'"
        if team_id
        else ("(user_id, memory_key) WHERE scope = 'user'")
    )
    with connection(settings) as conn:
        row = conn.execute(
            "INSERT INTO user_memories (user_id, team_id, scope, memory_key, memory_value, "  # noqa: S608
            "importance, source, source_ref, source_conversation_id, token_count) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            f"ON CONFLICT {conflict} DO UPDATE SET memory_value = EXCLUDED.memory_value, "
            "importance = GREATEST(user_memories.importance, EXCLUDED.importance), "
            "token_count = EXCLUDED.token_count, updated_at = now() "
            f"RETURNING {rows.MEMORY_COLUMNS}",
            (
                user_id,
                team_id,
                scope.value,
                key,
                clean,
                importance,
                source.value,
                source_ref,
                conversation_id,
                tokens,
            ),
        ).fetchone()
    assert row is not None
    return rows.memory(row)


def list_memories(
    user_id: str, *, team_id: str | None = None, settings: Settings | None = None
) -> list[Memory]:
    """The user's own memories (their personal ones and the team ones they added), and with
    ``team_id`` every memory of that team too; most important first."""
    with connection(settings) as conn:
        found = conn.execute(
            f"SELECT {rows.MEMORY_COLUMNS} FROM user_memories "  # noqa: S608 - constant columns
            "WHERE user_id = %s OR (scope = 'team' AND team_id = %s) "
            "ORDER BY importance DESC, updated_at DESC, id",
            (user_id, team_id),
        ).fetchall()
    return [rows.memory(row) for row in found]


def forget(
    user_id: str,
    *,
    memory_id: int | None = None,
    text: str | None = None,
    settings: Settings | None = None,
) -> list[Memory]:
    """Delete one of the user's own memories, by id or by its text.

    Text matches the memory with that normalised key, else the one memory whose key contains
    it; when several contain it, nothing is deleted and the error lists them.
    """
    if (memory_id is None) == (text is None):
        raise InvalidInput("say which memory to forget: its id or its text")
    with connection(settings) as conn:
        if memory_id is not None:
            found = conn.execute(
                f"DELETE FROM user_memories WHERE id = %s AND user_id = %s "  # noqa: S608
                f"RETURNING {rows.MEMORY_COLUMNS}",
                (memory_id, user_id),
            ).fetchall()
            if not found:
                raise NotFound(f"no memory {memory_id} of yours")
            return [rows.memory(row) for row in found]
        key = normalise_key(text or "")
        if not key:
            raise InvalidInput("say which memory to forget: its id or its text")
        candidates = conn.execute(
            f"SELECT {rows.MEMORY_COLUMNS} FROM user_memories "  # noqa: S608 - constant columns
            "WHERE user_id = %s AND strpos(memory_key, %s) > 0 ORDER BY id",
            (user_id, key),
        ).fetchall()
        exact = [row for row in candidates if row["memory_key"] == key]
        chosen = exact or candidates
        if not chosen:
            raise NotFound(f"no memory of yours matches {text!r}")
        if len(chosen) > 1:
            listed = "; ".join(f"{row['id']}: {row['memory_value'][:60]}" for row in chosen[:5])
            raise InvalidInput(
                f"{len(chosen)} of your memories match {text!r} ({listed}); forget one by id"
            )
        conn.execute(
            "DELETE FROM user_memories WHERE id = ANY(%s)", ([row["id"] for row in chosen],)
        )
    return [rows.memory(row) for row in chosen]


def parse_facts(text: str) -> list[dict[str, Any]]:
    """The first JSON array of objects in the model's answer (fenced or not); [] if none."""
    decoder = json.JSONDecoder()
    for start in (index for index, char in enumerate(text) if char == "["):
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        if isinstance(value, list) and all(isinstance(item, dict) for item in value):
            return value
    return []


def _importance(value: Any) -> int:
    try:
        return min(10, max(1, int(value)))
    except (TypeError, ValueError):
        return DEFAULT_IMPORTANCE


def extract_memories(
    user_id: str,
    text: str,
    *,
    team_id: str | None = None,
    conversation_id: str | None = None,
    source: MemorySource = MemorySource.WORKFLOW,
    source_ref: str | None = None,
    settings: Settings | None = None,
) -> list[Memory]:
    """Ask Claude (the summary model) for the lasting facts in ``text`` (a conversation's or
    a workflow's summary) and remember them: team facts for ``team_id`` when given, the rest
    for the user. Facts that fail the checks (too long, credential-like) are skipped.

    Raises ModelCallFailed when the model cannot be reached; nothing is stored then.
    """
    if not text.strip():
        return []
    settings = settings or get_settings()
    answer = create_message(
        settings,
        model=settings.autodev_summary_model,
        system=MEMORY_SYSTEM,
        messages=[{"role": "user", "content": text}],
        max_tokens=_EXTRACTION_MAX_TOKENS,
    )
    stored: list[Memory] = []
    for item in parse_facts(answer.text):
        fact = item.get("fact")
        if not isinstance(fact, str):
            continue
        team = team_id if item.get("scope") == "team" else None
        try:
            stored.append(
                remember(
                    user_id,
                    fact,
                    team_id=team,
                    importance=_importance(item.get("importance")),
                    source=source,
                    source_ref=source_ref,
                    conversation_id=conversation_id,
                    settings=settings,
                )
            )
        except InvalidInput as refused:
            log.info("an extracted memory was not kept: %s", refused)
    return stored
