"""Conversations and messages on real Postgres: one per Slack thread, counted tokens, owned,
archived and deleted; bad input refused with nothing changed."""

from __future__ import annotations

import pytest

from autodev.conversations import (
    Role,
    TokenSource,
    TokenUsage,
    ToolCall,
    add_message,
    archive_conversation,
    conversation_for_thread,
    conversation_for_workflow,
    delete_conversation,
    get_conversation,
    get_or_create_conversation,
    list_conversations,
    list_messages,
)
from autodev.errors import InvalidInput, NotFound
from autodev.local.model.server import ScriptedModelServer


def test_a_slack_thread_is_one_conversation_with_its_workflow(
    database: str, scripted_model: ScriptedModelServer
) -> None:
    started = get_or_create_conversation(
        "U1", channel_id="C1", thread_ts="1700000000.000100", team_id="T1", title="bug-fix"
    )
    again = get_or_create_conversation(
        "U2", channel_id="C1", thread_ts="1700000000.000100", workflow_id="wf-1"
    )
    assert again.id == started.id
    assert (again.user_id, again.workflow_id, again.team_id) == ("U1", "wf-1", "T1")
    other = get_or_create_conversation("U1", channel_id="C2", thread_ts="1700000000.000100")
    assert other.id != started.id
    found = conversation_for_thread("C1", "1700000000.000100")
    assert found is not None
    assert found.id == started.id
    by_workflow = conversation_for_workflow("wf-1")
    assert by_workflow is not None
    assert by_workflow.id == started.id
    assert conversation_for_workflow("wf-2") is None
    by_id = get_or_create_conversation("U1", conversation_id="cli-7")
    assert get_or_create_conversation("U1", conversation_id="cli-7").id == by_id.id == "cli-7"
    with pytest.raises(InvalidInput, match="belongs to another thread"):
        get_or_create_conversation("U1", channel_id="C9", thread_ts="9.9", conversation_id="cli-7")
    with pytest.raises(InvalidInput, match="channel_id"):
        get_or_create_conversation("U1", thread_ts="1.0")
    with pytest.raises(InvalidInput, match="user_id"):
        get_or_create_conversation("", channel_id="C1", thread_ts="2.0")


def test_messages_carry_real_counts_and_the_usage_behind_them(
    database: str, scripted_model: ScriptedModelServer
) -> None:
    conversation = get_or_create_conversation("U1", channel_id="C1", thread_ts="1.0")
    before = scripted_model.conversation_stats().get("count_tokens", 0)
    asked = add_message(conversation.id, Role.USER, "Why does AccountTrigger fail?", user_id="U1")
    assert asked.token_source is TokenSource.COUNTED
    assert asked.token_count > 0
    assert scripted_model.conversation_stats()["count_tokens"] == before + 1
    usage = TokenUsage(input_tokens=120, output_tokens=40, cache_read_input_tokens=1_000)
    call = ToolCall(id="toolu_1", name="Read", input={"file_path": "a.cls"}, result="class A {}")
    answered = add_message(
        conversation.id,
        Role.ASSISTANT,
        "Reading it.",
        tool_calls=[call],
        token_count=40,
        usage=usage,
    )
    assert (answered.token_source, answered.token_count, answered.usage) == (
        TokenSource.USAGE,
        40,
        usage,
    )
    assert answered.tool_calls == (call,)
    after = get_conversation(conversation.id)
    assert after.token_count == asked.token_count + 40
    assert (after.input_tokens, after.output_tokens) == (1_120, 40)
    assert [m.id for m in list_messages(conversation.id)] == [asked.id, answered.id]


def test_bad_messages_are_refused_and_change_nothing(
    database: str, scripted_model: ScriptedModelServer
) -> None:
    conversation = get_or_create_conversation("U1", channel_id="C1", thread_ts="1.0")
    call = ToolCall(id="t1", name="Read", input={}, result="x")
    for role, content, calls, match in [
        (Role.SUMMARY, "a summary", [], "summariser"),
        (Role.USER, "   ", [], "content or tool calls"),
        (Role.USER, "look", [call], "only the assistant"),
        (Role.ASSISTANT, "", [call, call], "its own id"),
        ("moderator", "hello", [], "not a valid message"),
    ]:
        with pytest.raises(InvalidInput, match=match):
            add_message(conversation.id, role, content, tool_calls=calls)
    nul = ToolCall(id="t3", name="Read", input={}, result="a\x00b")
    with pytest.raises(InvalidInput, match="NUL"):
        add_message(conversation.id, Role.ASSISTANT, "", tool_calls=[nul])
    with pytest.raises(InvalidInput, match="must be JSON"):
        add_message(conversation.id, Role.USER, "hi", metadata={"when": object()})
    with pytest.raises(NotFound):
        add_message("no-such-conversation", Role.USER, "hello")
    assert list_messages(conversation.id) == []
    assert get_conversation(conversation.id).token_count == 0


def test_owners_list_archive_and_delete_their_conversations(
    database: str, scripted_model: ScriptedModelServer
) -> None:
    first = get_or_create_conversation("U1", channel_id="C1", thread_ts="1.0")
    second = get_or_create_conversation("U1", channel_id="C1", thread_ts="2.0")
    get_or_create_conversation("U2", channel_id="C1", thread_ts="3.0")
    add_message(first.id, Role.USER, "the newest activity", user_id="U1")
    assert [c.id for c in list_conversations("U1")] == [first.id, second.id]
    with pytest.raises(NotFound):
        archive_conversation(first.id, "U2")  # not theirs
    archive_conversation(second.id, "U1")
    assert [c.id for c in list_conversations("U1")] == [first.id]
    assert {c.id for c in list_conversations("U1", include_archived=True)} == {first.id, second.id}
    with pytest.raises(InvalidInput, match="archived"):
        add_message(second.id, Role.USER, "hello again")
    # A new message in its thread resumes it.
    resumed = get_or_create_conversation("U1", channel_id="C1", thread_ts="2.0")
    assert (resumed.id, resumed.status) == (second.id, "active")
    add_message(second.id, Role.USER, "hello again")
    with pytest.raises(NotFound):
        delete_conversation(first.id, "U2")
    delete_conversation(first.id, "U1")
    with pytest.raises(NotFound):
        get_conversation(first.id)
    assert list_messages(first.id) == []
