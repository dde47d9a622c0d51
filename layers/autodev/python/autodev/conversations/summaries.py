"""Summaries: past the threshold, older messages are folded into one summary by Claude.

When a conversation's live size (its current summary plus the messages it has not replaced,
``conversations.token_count``) passes ``CONVERSATION_SUMMARY_THRESHOLD``, the oldest live
messages are sent to the summary model (``AUTODEV_SUMMARY_MODEL``) with the previous summary,
and the answer is stored as a ``summary`` message that replaces them (they are marked
``summarized`` and leave the context; they stay in the table). The newest messages, up to a
quarter of the threshold, stay verbatim (see ``budget``). A message is the unit: a tool call
is stored with its result, so a fold never separates them.

Exactly once per crossing, however many processes add messages at the same moment:

1. *Claim*, in one short transaction: ``SELECT ... FOR UPDATE`` of the conversation row, check
   the size is still past the threshold and that no unexpired claim is there, choose the
   messages to fold, and write a claim (a random token and an expiry) on the row. Adders
   queue on the same row lock for their own update, so each of them sees either no claim and
   the size before, or the claim.
2. Call the model with no transaction open (it can take seconds; nothing waits on it).
3. *Store*, in one transaction under the row lock again: only if the claim is still ours,
   mark exactly the folded messages, insert the summary, recompute the live size, clear the
   claim. A failed call clears the claim; a process that died leaves a claim that expires
   after ``CLAIM_SECONDS``, and the next message tries again.

A single fold sends at most ``Budget.fold_tokens``; when more than that is past the threshold
(messages added in bulk), the same caller folds again, each summary superseding the last.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from psycopg.types.json import Jsonb

from autodev.config import Settings, get_settings
from autodev.conversations import render, rows
from autodev.conversations.budget import Budget
from autodev.conversations.calls import create_message
from autodev.conversations.models import Message, Role, Summary, TokenSource, TokenUsage
from autodev.conversations.prompts import SUMMARY_SYSTEM
from autodev.db import connection
from autodev.db.pool import Conn
from autodev.errors import AutodevError
from autodev.observability import child_logger

log = child_logger(__name__)

# Longer than a summary call can take with the SDK's retries (60 s x 3).
CLAIM_SECONDS = 300
# Bulk additions are folded in rounds; a bound so that a fault cannot loop.
MAX_ROUNDS = 1000
_PAGE = 200


@dataclass(frozen=True)
class _Claim:
    token: str
    conversation_id: str
    previous_summary: str | None
    previous_summary_id: int | None
    fold: tuple[Message, ...]
    live_tokens: int


def summarize_if_needed(conversation_id: str, settings: Settings | None = None) -> Summary | None:
    """Summarise the conversation if it is past the threshold and nobody else is at it.

    Returns the newest summary this call stored, or None. A failed model call is logged and
    leaves the conversation as it was (its context is still bounded by the window).
    """
    settings = settings or get_settings()
    budget = Budget.of(settings)
    made: Summary | None = None
    for _ in range(MAX_ROUNDS):
        claim = _claim(conversation_id, budget)
        if claim is None:
            return made
        stored: tuple[Summary, int] | None = None
        try:
            answer = create_message(
                settings,
                model=settings.autodev_summary_model,
                system=SUMMARY_SYSTEM,
                messages=[
                    {
                        "role": "user",
                        "content": render.summary_request(claim.previous_summary, claim.fold),
                    }
                ],
                max_tokens=budget.summary_max,
            )
            if not answer.text:
                raise AutodevError("the summary model answered with no text")
            stored = _store(claim, answer.text, answer.usage, answer.model)
        except AutodevError as error:
            log.warning("conversation %s was not summarised: %s", conversation_id, error)
            return made
        finally:
            if stored is None:
                _release(claim)
        if stored is None:
            return made
        made, live = stored
        if live <= budget.threshold or live >= claim.live_tokens:
            return made
    return made


def _oldest_kept_id(conn: Conn, conversation_id: str, keep_tokens: int) -> int | None:
    """The oldest of the newest live messages that together fit in ``keep_tokens`` (at least
    the newest one); None when there are no live messages."""
    kept, cut = 0, None
    before: int | None = None
    while True:
        if before is None:
            page = conn.execute(
                "SELECT id, token_count FROM conversation_messages "
                "WHERE conversation_id = %s AND NOT summarized AND role <> 'summary' "
                "ORDER BY id DESC LIMIT %s",
                (conversation_id, _PAGE),
            ).fetchall()
        else:
            page = conn.execute(
                "SELECT id, token_count FROM conversation_messages "
                "WHERE conversation_id = %s AND NOT summarized AND role <> 'summary' "
                "AND id < %s ORDER BY id DESC LIMIT %s",
                (conversation_id, before, _PAGE),
            ).fetchall()
        for row in page:
            if cut is not None and kept + row["token_count"] > keep_tokens:
                return cut
            kept += row["token_count"]
            cut = int(row["id"])
        if len(page) < _PAGE:
            return cut
        before = int(page[-1]["id"])


def _to_fold(conn: Conn, conversation_id: str, below_id: int, fold_tokens: int) -> list[Message]:
    """The oldest live messages below ``below_id``, up to ``fold_tokens`` (at least one)."""
    fold: list[Message] = []
    total = 0
    after = 0
    while True:
        page = conn.execute(
            f"SELECT {rows.MESSAGE_COLUMNS} FROM conversation_messages "  # noqa: S608 - constant
            "WHERE conversation_id = %s AND NOT summarized AND role <> 'summary' "
            "AND id > %s AND id < %s ORDER BY id LIMIT %s",
            (conversation_id, after, below_id, _PAGE),
        ).fetchall()
        for row in page:
            if fold and total + row["token_count"] > fold_tokens:
                return fold
            fold.append(rows.message(row))
            total += row["token_count"]
        if len(page) < _PAGE:
            return fold
        after = page[-1]["id"]


def _claim(conversation_id: str, budget: Budget) -> _Claim | None:
    with connection() as conn:
        row = conn.execute(
            "SELECT token_count, summary, summary_tokens, summary_message_id, "
            "coalesce(summary_claimed_until > now(), false) AS claimed "
            "FROM conversations WHERE id = %s FOR UPDATE",
            (conversation_id,),
        ).fetchone()
        if row is None or row["token_count"] <= budget.threshold or row["claimed"]:
            return None
        cut = _oldest_kept_id(conn, conversation_id, budget.keep_tokens)
        if cut is None:
            return None
        room = max(1, budget.fold_tokens - int(row["summary_tokens"]))
        fold = _to_fold(conn, conversation_id, cut, room)
        if not fold:
            return None  # everything live is among the newest turns: nothing to fold
        token = secrets.token_hex(12)
        conn.execute(
            "UPDATE conversations SET summary_claim = %s, "
            "summary_claimed_until = now() + make_interval(secs => %s) WHERE id = %s",
            (token, CLAIM_SECONDS, conversation_id),
        )
    return _Claim(
        token=token,
        conversation_id=conversation_id,
        previous_summary=row["summary"],
        previous_summary_id=row["summary_message_id"],
        fold=tuple(fold),
        live_tokens=int(row["token_count"]),
    )


def _store(claim: _Claim, text: str, usage: TokenUsage, model: str) -> tuple[Summary, int] | None:
    through = max(message.id for message in claim.fold)
    # The summary's real size is what the model produced (a fresh count only if it reported
    # none, as a stand-in might not).
    tokens = usage.output_tokens
    source = TokenSource.USAGE
    if tokens <= 0:
        from autodev.conversations.tokens import estimate_tokens

        tokens, source = estimate_tokens(text), TokenSource.ESTIMATE
    with connection() as conn:
        row = conn.execute(
            "SELECT summary_claim FROM conversations WHERE id = %s FOR UPDATE",
            (claim.conversation_id,),
        ).fetchone()
        if row is None or row["summary_claim"] != claim.token:
            log.warning(
                "conversation %s: the summary claim expired before the summary was stored; "
                "it was discarded",
                claim.conversation_id,
            )
            return None
        ids = [message.id for message in claim.fold]
        if claim.previous_summary_id is not None:
            ids.append(claim.previous_summary_id)
        conn.execute(
            "UPDATE conversation_messages SET summarized = true "
            "WHERE conversation_id = %s AND id = ANY(%s)",
            (claim.conversation_id, ids),
        )
        meta = {
            "token_source": source.value,
            "usage": usage.model_dump(),
            "data": {
                "through_message_id": through,
                "replaced": len(claim.fold),
                "previous_summary_id": claim.previous_summary_id,
                "model": model,
            },
        }
        inserted = conn.execute(
            "INSERT INTO conversation_messages (conversation_id, role, content, token_count, "
            "metadata) VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (claim.conversation_id, Role.SUMMARY.value, text, tokens, Jsonb(meta)),
        ).fetchone()
        assert inserted is not None
        live_row = conn.execute(
            "SELECT coalesce(sum(token_count), 0) AS live FROM conversation_messages "
            "WHERE conversation_id = %s AND NOT summarized",
            (claim.conversation_id,),
        ).fetchone()
        live = int(live_row["live"]) if live_row else 0
        conn.execute(
            "UPDATE conversations SET summary = %s, summary_tokens = %s, "
            "summary_message_id = %s, token_count = %s, summary_claim = NULL, "
            "summary_claimed_until = NULL, input_tokens = input_tokens + %s, "
            "output_tokens = output_tokens + %s, updated_at = now() WHERE id = %s",
            (
                text,
                tokens,
                inserted["id"],
                live,
                usage.sent,
                usage.output_tokens,
                claim.conversation_id,
            ),
        )
    summary = Summary(
        message_id=int(inserted["id"]),
        conversation_id=claim.conversation_id,
        text=text,
        token_count=tokens,
        replaced=len(claim.fold),
        through_message_id=through,
        model=model,
    )
    log.info(
        "conversation %s: %d messages summarised into %d tokens",
        claim.conversation_id,
        len(claim.fold),
        tokens,
    )
    return summary, live


def _release(claim: _Claim) -> None:
    try:
        with connection() as conn:
            conn.execute(
                "UPDATE conversations SET summary_claim = NULL, summary_claimed_until = NULL "
                "WHERE id = %s AND summary_claim = %s",
                (claim.conversation_id, claim.token),
            )
    except AutodevError as error:  # the claim expires by itself
        log.warning(
            "conversation %s: the summary claim was not released: %s", claim.conversation_id, error
        )
