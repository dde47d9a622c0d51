"""The conversation manager: what a context costs to assemble, and what it costs to send.

1. ``get_context_for_api`` on a conversation of 10,000 messages against one of 100, same run,
   same message sizes (about 400 tokens each, the spec's default limits): the context reads the
   summary and the newest live messages through an index, not the history, so the long
   conversation should cost at most 1.5 times the short one. Interleaved rounds, medians.
2. Tokens sent to the model per turn over a 200-turn conversation, against sending the full
   history every turn (what a thread costs without a manager). Each turn a user asks a
   question (about 60 to 150 tokens) that Claude answers through ``reply``; every other turn a
   workflow step's report (about 2,500 tokens) arrives first, so the thread ends at about five
   times ``CONVERSATION_SUMMARY_THRESHOLD``. Ours is every input token the conversation's
   model calls reported (answers and summaries); the baseline is the system prompt plus every
   message so far, each message counted once by the counting endpoint. Goal: at most 0.30.

Both run on the scripted model server, whose counts are an estimate (about four characters a
token) applied alike to both sides of each ratio.
"""

from __future__ import annotations

import random
import statistics
import time

import anthropic
import pytest

from autodev.conversations import (
    NewMessage,
    Role,
    add_message,
    add_messages,
    get_context_for_api,
    get_conversation,
    get_or_create_conversation,
    remember,
    reply,
)
from autodev.conversations.prompts import ANSWER_SYSTEM
from autodev.local.model.server import ScriptedModelServer
from tests.bench.conftest import BenchReport
from tests.integration.conversations_support import WORDS, set_limits, stand_in_count

LONG, SHORT = 10_000, 100
ROUNDS, CALLS = 7, 15
TURNS = 200


def _messages(count: int, rng: random.Random) -> list[NewMessage]:
    found = []
    for number in range(count):
        role = Role.USER if number % 2 == 0 else Role.ASSISTANT
        text = f"#{number} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(180, 230)))
        found.append(
            NewMessage(
                role=role,
                content=text,
                user_id="U1" if role is Role.USER else None,
                token_count=stand_in_count(text),
            )
        )
    return found


def _conversation(count: int, thread: str) -> str:
    conversation = get_or_create_conversation("U1", channel_id="C1", thread_ts=thread)
    messages = _messages(count, random.Random(count))
    for start in range(0, count, 500):
        add_messages(conversation.id, messages[start : start + 500])
    return conversation.id


def _seconds_per_call(conversation_id: str) -> float:
    began = time.perf_counter()
    for _ in range(CALLS):
        get_context_for_api(conversation_id, system=ANSWER_SYSTEM)
    return (time.perf_counter() - began) / CALLS


def test_context_assembly_does_not_grow_with_the_history(
    database: str,
    scripted_model: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
    bench: BenchReport,
) -> None:
    set_limits(monkeypatch, 100_000, 50_000)
    for number in range(30):
        remember("U1", f"fact {number} about the {WORDS[number % len(WORDS)]}", importance=5)
    short, long = _conversation(SHORT, "short"), _conversation(LONG, "long")
    long_context, short_context = get_context_for_api(long), get_context_for_api(short)
    assert long_context.summary is not None  # the long one was summarised
    assert short_context.summary is None
    _seconds_per_call(short), _seconds_per_call(long)  # warm both (pool, caches)
    shorts, longs = [], []
    for _ in range(ROUNDS):
        shorts.append(_seconds_per_call(short))
        longs.append(_seconds_per_call(long))
    baseline, value = statistics.median(shorts), statistics.median(longs)
    row = bench.record(
        f"get_context_for_api, {LONG:,} vs {SHORT} messages",
        round(value * 1000, 3),
        "ms per context",
        round(baseline * 1000, 3),
        goal="<= 1.5 (reads the summary and the newest messages, not the history)",
    )
    print(
        f"\n{row.name}: {value * 1000:.2f} ms vs {baseline * 1000:.2f} ms, {row.ratio:.2f}x; "
        f"contexts of {len(long_context.message_ids)} messages and a summary "
        f"({long_context.token_count} tokens) vs {len(short_context.message_ids)} messages "
        f"({short_context.token_count} tokens)"
    )
    assert row.ratio < 3.0  # far above the goal, the context reads the history


def test_tokens_sent_per_turn_against_the_full_history(
    database: str,
    scripted_model: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
    bench: BenchReport,
) -> None:
    set_limits(monkeypatch, 100_000, 50_000)
    rng = random.Random(200)
    conversation = get_or_create_conversation("U1", channel_id="C1", thread_ts="turns")
    counter = anthropic.Anthropic(api_key="bench", base_url=scripted_model.url, max_retries=0)

    def counted(text: str) -> int:  # the counting endpoint, independent of the manager
        return counter.messages.count_tokens(
            model="claude-sonnet-4-6", messages=[{"role": "user", "content": text}]
        ).input_tokens

    system_tokens = counted(ANSWER_SYSTEM)
    history = 0  # tokens of every message so far, each counted once
    full = 0  # what sending the whole history every turn would have sent
    for turn in range(TURNS):
        if turn % 2 == 0:
            report = f"step {turn} finished: " + " ".join(
                rng.choice(WORDS) for _ in range(rng.randint(1_300, 1_500))
            )
            add_message(conversation.id, Role.SYSTEM, report)
            history += counted(report)
        question = f"turn {turn}: " + " ".join(
            rng.choice(WORDS) for _ in range(rng.randint(40, 110))
        )
        history += counted(question)
        full += system_tokens + history
        answered = reply(conversation.id, question, user_id="U1")
        history += counted(answered.answer.content)
    counter.close()
    ours = get_conversation(conversation.id).input_tokens  # answers and summaries, as reported
    summaries = scripted_model.conversation_stats().get("summary", 0)
    row = bench.record(
        f"tokens sent per turn, {TURNS}-turn conversation vs full history",
        round(ours / TURNS),
        "input tokens per turn",
        round(full / TURNS),
        goal="<= 0.30",
    )
    print(f"\n{row.name}: {ours / TURNS:.0f} vs {full / TURNS:.0f}, {summaries} summaries")
    assert summaries > 0
    assert row.ratio <= 0.30
