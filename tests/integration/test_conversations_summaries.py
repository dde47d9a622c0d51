"""Summaries on real Postgres: they replace the old turns, once per threshold crossing even
when threads and processes add messages at the same moment, and a failed summary leaves the
conversation to be summarised by the next message."""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading
from typing import Any

import pytest

from autodev.config import get_settings
from autodev.conversations import (
    NewMessage,
    Role,
    TokenSource,
    add_message,
    add_messages,
    get_context_for_api,
    get_conversation,
    get_or_create_conversation,
    list_messages,
    summarize_if_needed,
)
from autodev.db import connection
from autodev.local.model.server import ScriptedModelServer
from autodev.local.testing import wait_for
from tests.integration.conversations_support import (
    assert_valid_for_the_api,
    set_limits,
    summarise_in_process,
)

MAX_TOKENS = 4_000
THRESHOLD = 2_000


def _summaries(conversation_id: str) -> list[Any]:
    return [m for m in list_messages(conversation_id, limit=10_000) if m.role is Role.SUMMARY]


def _claim(conversation_id: str) -> Any:
    with connection() as conn:
        row = conn.execute(
            "SELECT summary_claim, summary_claimed_until FROM conversations WHERE id = %s",
            (conversation_id,),
        ).fetchone()
    assert row is not None
    return row["summary_claim"]


def _prefill(conversation_id: str, tokens: int, each: int = 50) -> list[int]:
    messages = [
        NewMessage(
            role=Role.USER if number % 2 == 0 else Role.ASSISTANT,
            content=f"old turn {number}: the AccountTrigger fails on bulk insert",
            token_count=each,
        )
        for number in range(tokens // each)
    ]
    return [m.id for m in add_messages(conversation_id, messages, summarize=False)]


def _assert_nothing_lost(conversation_id: str) -> None:
    everything = list_messages(conversation_id, limit=10_000)
    live = [m for m in everything if not m.summarized and m.role is not Role.SUMMARY]
    summary = [m for m in everything if m.role is Role.SUMMARY and not m.summarized]
    context = get_context_for_api(conversation_id)
    assert context.complete
    assert list(context.message_ids) == [m.id for m in live]
    assert get_conversation(conversation_id).token_count == sum(
        m.token_count for m in live + summary
    )


def test_the_summary_replaces_the_old_turns_and_keeps_the_newest_verbatim(
    database: str, scripted_model: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_limits(monkeypatch, MAX_TOKENS, THRESHOLD)
    conversation = get_or_create_conversation("U1", channel_id="C1", thread_ts="1.0")
    added = []
    number = 0
    while not _summaries(conversation.id):
        role = Role.USER if number % 2 == 0 else Role.ASSISTANT
        text = f"turn {number}: " + "the trigger handler needs a bulk-safe query " * 4
        added.append(add_message(conversation.id, role, text, user_id="U1"))
        number += 1
        assert number < 500
    assert all(m.token_source is TokenSource.COUNTED for m in added)
    [summary] = _summaries(conversation.id)
    replaced = {m.id for m in list_messages(conversation.id, limit=10_000) if m.summarized}
    assert replaced == {m.id for m in added[: len(replaced)]}  # the oldest ones, in order
    context = get_context_for_api(conversation.id)
    assert context.summary == summary.content
    assert summary.content.startswith("[scripted model] summary")
    # Made from the replaced turns (the scripted one keeps the newest lines that fit).
    assert f"turn {len(replaced) - 1}:" in summary.content
    assert f"turn {len(replaced)}:" not in summary.content
    assert not replaced & set(context.message_ids)
    # The newest turns are verbatim, a quarter of the threshold at most (at least one).
    kept = [m for m in added if m.id not in replaced]
    assert context.message_ids == tuple(m.id for m in kept)
    assert sum(m.token_count for m in kept[1:]) <= THRESHOLD // 4
    assert all(m["role"] in ("user", "assistant") for m in context.messages)
    assert_valid_for_the_api(context.messages)
    assert summary.token_source is TokenSource.USAGE  # the size the model reported
    assert get_conversation(conversation.id).token_count < THRESHOLD
    _assert_nothing_lost(conversation.id)


def test_one_summary_per_crossing_when_threads_add_at_once(
    database: str, scripted_model: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_limits(monkeypatch, MAX_TOKENS, THRESHOLD)
    monkeypatch.setenv("DB_POOL_MAX_SIZE", "12")
    get_settings.cache_clear()
    conversation = get_or_create_conversation("U1", channel_id="C1", thread_ts="2.0")
    _prefill(conversation.id, THRESHOLD - 50)
    threads, per_thread = 8, 5
    start = threading.Barrier(threads)
    finished: list[str] = []
    errors: list[BaseException] = []

    def add(name: str) -> None:
        try:
            start.wait(30)
            for number in range(per_thread):
                add_message(conversation.id, Role.USER, f"{name} says {number}", token_count=20)
            finished.append(name)
        except BaseException as error:  # surfaced below
            errors.append(error)

    # The first summary is held in flight: every other adder must see it claimed, not start
    # its own.
    scripted_model.hold("summary")
    workers = [threading.Thread(target=add, args=(f"t{i}",)) for i in range(threads)]
    try:
        for worker in workers:
            worker.start()
        wait_for(lambda: scripted_model.conversation_stats().get("summary"), what="a summary")
        # All but the adder whose message crossed the threshold (it waits for the summary).
        wait_for(lambda: len(finished) + len(errors) >= threads - 1, what="the other adders")
        assert errors == []
        assert scripted_model.conversation_stats()["summary"] == 1
        assert _claim(conversation.id) is not None
    finally:
        scripted_model.release("summary")
        for worker in workers:
            worker.join(30)
    assert errors == []
    assert len(finished) == threads
    assert scripted_model.conversation_stats()["summary"] == 1
    assert len(_summaries(conversation.id)) == 1
    assert _claim(conversation.id) is None
    texts = [m.content for m in list_messages(conversation.id, limit=10_000)]
    assert sum(1 for text in texts if " says " in text) == threads * per_thread
    _assert_nothing_lost(conversation.id)


def test_one_summary_per_crossing_when_processes_race(
    database: str, scripted_model: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_limits(monkeypatch, MAX_TOKENS, THRESHOLD)
    conversation = get_or_create_conversation("U1", channel_id="C1", thread_ts="3.0")
    _prefill(conversation.id, THRESHOLD + 500)  # past the threshold, not yet summarised
    env = {
        name: os.environ[name]
        for name in (
            "DATABASE_URL",
            "AUTODEV_SCRIPTED_MODEL_URL",
            "CONVERSATION_MAX_TOKENS",
            "CONVERSATION_SUMMARY_THRESHOLD",
            "AUTODEV_STATE_DIR",
        )
    }
    spawn = multiprocessing.get_context("spawn")
    processes = 4
    start = spawn.Barrier(processes)
    results = spawn.Queue()
    scripted_model.hold("summary")
    children = [
        spawn.Process(target=summarise_in_process, args=(env, conversation.id, start, results, 3))
        for _ in range(processes)
    ]
    reported: list[tuple[int, bool]] = []
    try:
        for child in children:
            child.start()
        wait_for(
            lambda: scripted_model.conversation_stats().get("summary"),
            timeout=120,
            what="a summary request",
        )
        # The others found the claim and went on adding messages.
        for _ in range(processes - 1):
            reported.append(results.get(timeout=120))
        assert scripted_model.conversation_stats()["summary"] == 1
    finally:
        scripted_model.release("summary")
    reported.append(results.get(timeout=120))
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    assert sorted(made for _, made in reported) == [False] * (processes - 1) + [True]
    assert scripted_model.conversation_stats()["summary"] == 1
    assert len(_summaries(conversation.id)) == 1
    _assert_nothing_lost(conversation.id)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_failed_summary_frees_the_claim_and_the_next_message_summarises(
    database: str, scripted_model: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_limits(monkeypatch, MAX_TOKENS, THRESHOLD)
    conversation = get_or_create_conversation("U1", channel_id="C1", thread_ts="4.0")
    _prefill(conversation.id, THRESHOLD - 100)
    # The model is unreachable: the message is kept (counted by the documented estimate),
    # the summary fails after the SDK's retries, and the claim is given back.
    monkeypatch.setenv("AUTODEV_SCRIPTED_MODEL_URL", f"http://127.0.0.1:{_closed_port()}")
    get_settings.cache_clear()
    stored = add_message(conversation.id, Role.USER, "this crosses the threshold " * 30)
    assert stored.token_source is TokenSource.ESTIMATE
    assert get_conversation(conversation.id).token_count > THRESHOLD
    assert _summaries(conversation.id) == []
    assert _claim(conversation.id) is None
    assert get_context_for_api(conversation.id).token_count <= MAX_TOKENS
    # Back online: the next message brings the summary.
    monkeypatch.setenv("AUTODEV_SCRIPTED_MODEL_URL", scripted_model.url)
    get_settings.cache_clear()
    add_message(conversation.id, Role.ASSISTANT, "noted", token_count=5)
    assert len(_summaries(conversation.id)) == 1
    _assert_nothing_lost(conversation.id)


def test_a_live_claim_is_respected_and_an_expired_one_taken_over(
    database: str, scripted_model: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_limits(monkeypatch, MAX_TOKENS, THRESHOLD)
    conversation = get_or_create_conversation("U1", channel_id="C1", thread_ts="5.0")
    _prefill(conversation.id, THRESHOLD + 500)
    with connection() as conn:  # another process is summarising (it claimed a minute ago)
        conn.execute(
            "UPDATE conversations SET summary_claim = 'other', "
            "summary_claimed_until = now() + interval '4 minutes' WHERE id = %s",
            (conversation.id,),
        )
    assert summarize_if_needed(conversation.id) is None
    assert scripted_model.conversation_stats().get("summary", 0) == 0
    with connection() as conn:  # ... and died: its claim has expired
        conn.execute(
            "UPDATE conversations SET summary_claimed_until = now() - interval '1 second' "
            "WHERE id = %s",
            (conversation.id,),
        )
    made = summarize_if_needed(conversation.id)
    assert made is not None
    assert made.replaced > 0
    assert _claim(conversation.id) is None
    _assert_nothing_lost(conversation.id)
