"""The context on real Postgres: never over the limit, whatever the conversation's length,
tool calls never without their results, newest turns verbatim, and the answer path."""

from __future__ import annotations

import pytest

from autodev.conversations import (
    ContextTooLarge,
    Role,
    TokenSource,
    ToolCall,
    add_message,
    add_messages,
    get_context_for_api,
    get_conversation,
    get_or_create_conversation,
    list_messages,
    reply,
)
from autodev.local.model.server import ScriptedModelServer
from tests.integration.conversations_support import (
    assert_valid_for_the_api,
    counted_by_the_api,
    generated,
    set_limits,
)

# The spec's defaults: 1,000 generated messages are about three times the threshold.
MAX_TOKENS = 100_000
THRESHOLD = 50_000
BATCH = 500


@pytest.mark.parametrize("count", [10, 1_000, 10_000])
def test_the_context_never_exceeds_the_limit(
    database: str,
    scripted_model: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
    count: int,
) -> None:
    set_limits(monkeypatch, MAX_TOKENS, THRESHOLD)
    conversation = get_or_create_conversation("U1", channel_id="C1", thread_ts=f"{count}.0")
    messages = generated(count)
    if count <= 10:
        # One at a time, counted by the counting endpoint, as Slack messages arrive.
        for message in messages:
            added = add_message(
                conversation.id,
                message.role,
                message.content,
                user_id=message.user_id,
                tool_calls=message.tool_calls,
            )
            assert added.token_source is TokenSource.COUNTED
    else:
        for start in range(0, count, BATCH):
            add_messages(conversation.id, messages[start : start + BATCH])
    context = get_context_for_api(conversation.id, system="You answer questions.")
    assert context.token_count <= MAX_TOKENS
    assert counted_by_the_api(scripted_model, context) <= MAX_TOKENS
    assert_valid_for_the_api(context.messages)
    stored = list_messages(conversation.id, include_summarized=False, limit=10_000)
    newest = [m.id for m in stored if m.role is not Role.SUMMARY]
    # The newest turns are there, verbatim and in order, up to the newest one.
    assert context.message_ids == tuple(newest[-len(context.message_ids) :])
    assert newest[-1] == context.message_ids[-1]
    live = get_conversation(conversation.id)
    assert live.token_count <= THRESHOLD + max(m.token_count or 0 for m in messages[-BATCH:])
    if count > 10:
        assert context.summary is not None
        assert "[scripted model] summary" in context.summary
        assert context.system.count(context.summary) == 1


def test_without_a_summary_the_window_still_keeps_the_limit(
    database: str, scripted_model: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A threshold above the history: nothing is summarised, the window alone bounds the context.
    set_limits(monkeypatch, 6_000, 10**9)
    conversation = get_or_create_conversation("U1", channel_id="C1", thread_ts="raw")
    messages = generated(10_000, seed=11)
    for start in range(0, len(messages), BATCH):
        add_messages(conversation.id, messages[start : start + BATCH])
    context = get_context_for_api(conversation.id)
    assert context.summary is None
    assert not context.complete
    assert context.token_count <= 6_000
    assert counted_by_the_api(scripted_model, context) <= 6_000
    assert_valid_for_the_api(context.messages)
    assert scripted_model.conversation_stats().get("summary", 0) == 0
    # A smaller limit asked for is kept too.
    small = get_context_for_api(conversation.id, max_tokens=1_500)
    assert small.token_count <= 1_500
    assert set(small.message_ids) <= set(context.message_ids)


def test_a_tool_call_is_never_sent_without_its_result(
    database: str, scripted_model: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_limits(monkeypatch, 2_000, 1_000)
    conversation = get_or_create_conversation("U1", channel_id="C1", thread_ts="tools")
    # Every other message is a tool exchange, so every cut point is next to one.
    for number in range(120):
        if number % 2:
            calls = [
                ToolCall(id=f"t{number}a", name="Read", input={"f": number}, result="x" * 200),
                ToolCall(id=f"t{number}b", name="Grep", input={"q": number}, result="y" * 90),
            ]
            add_message(conversation.id, Role.ASSISTANT, "", tool_calls=calls, token_count=120)
        else:
            add_message(conversation.id, Role.USER, f"question {number}", token_count=10)
        for limit in (500, 1_000, 2_000):
            context = get_context_for_api(conversation.id, max_tokens=limit)
            assert context.token_count <= limit
            assert_valid_for_the_api(context.messages)
            transcript = context.appended_system_prompt
            assert transcript.count("[tool ") == transcript.count("[result] ")
    summarised = [m for m in list_messages(conversation.id, limit=1_000) if m.summarized]
    assert summarised, "the conversation passed the threshold: older turns were summarised"


def test_what_cannot_fit_is_refused_with_a_clear_error(
    database: str, scripted_model: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_limits(monkeypatch, 400, 200)
    conversation = get_or_create_conversation("U1", conversation_id="cli-1")
    with pytest.raises(ContextTooLarge, match="more than the context"):
        get_context_for_api(conversation.id, system="word " * 2_000)
    before = get_conversation(conversation.id)
    from autodev.errors import InvalidInput

    with pytest.raises(InvalidInput, match="a quarter of CONVERSATION_MAX_TOKENS"):
        add_message(conversation.id, Role.USER, "long " * 500)
    after = get_conversation(conversation.id)
    assert (after.token_count, list_messages(conversation.id)) == (before.token_count, [])


def test_an_answer_is_stored_with_the_usage_the_api_reported(
    database: str, scripted_model: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_limits(monkeypatch, MAX_TOKENS, THRESHOLD)
    conversation = get_or_create_conversation("U1", channel_id="C1", thread_ts="answer")
    add_message(conversation.id, Role.SYSTEM, "workflow bug-fix-1a2b3c4d started: AccountTrigger")
    answered = reply(conversation.id, "Which class was it about?", user_id="U1")
    assert answered.answer.content.startswith("[scripted model] You said: “Which class")
    # The note and the question went as one user turn (roles alternate).
    assert "In view: 1 message(s)" in answered.answer.content
    assert answered.answer.token_source is TokenSource.USAGE
    assert answered.answer.token_count == answered.usage.output_tokens > 0
    assert answered.usage.sent > 0
    after = get_conversation(conversation.id)
    assert (after.input_tokens, after.output_tokens) == (
        answered.usage.sent,
        answered.usage.output_tokens,
    )
    assert scripted_model.conversation_stats()["answer"] == 1
