"""Memories on real Postgres: per user and per team, deduplicated, relevant ones in the
context of a new conversation, extracted by Claude, listed and deleted by their owner."""

from __future__ import annotations

import pytest

from autodev.conversations import (
    MemoryScope,
    MemorySource,
    Role,
    add_message,
    delete_conversation,
    extract_memories,
    forget,
    get_context_for_api,
    get_or_create_conversation,
    learn_from_conversation,
    list_memories,
    remember,
)
from autodev.errors import InvalidInput, NotFound
from autodev.local.model.server import ScriptedModelServer


def _context_of(user: str, thread: str, text: str, team: str | None = None) -> str:
    conversation = get_or_create_conversation(user, channel_id="C1", thread_ts=thread, team_id=team)
    add_message(conversation.id, Role.USER, text, user_id=user)
    context = get_context_for_api(conversation.id)
    assert context.appended_system_prompt.startswith(context.system)  # the same parts
    return context.system


def test_a_memory_reaches_the_users_next_conversation_and_no_one_elses(
    database: str, scripted_model: ScriptedModelServer
) -> None:
    first = get_or_create_conversation("U1", channel_id="C1", thread_ts="1.0")
    add_message(first.id, Role.USER, "Please keep answers short.", user_id="U1")
    stored = remember("U1", "Alice prefers answers in bullet points.", conversation_id=first.id)
    assert (stored.scope, stored.source, stored.conversation_id) == (
        MemoryScope.USER,
        MemorySource.REQUEST,
        first.id,
    )
    mine = _context_of("U1", "2.0", "How should the answers look? bullet points?")
    assert "Alice prefers answers in bullet points." in mine
    theirs = _context_of("U2", "3.0", "How should the answers look? bullet points?")
    assert "Alice prefers" not in theirs


def test_team_memories_reach_the_team_only(
    database: str, scripted_model: ScriptedModelServer
) -> None:
    remember("U1", "Our org uses the trigger handler pattern.", team_id="T1", importance=8)
    teammate = _context_of("U2", "1.0", "Fix the AccountTrigger", team="T1")
    assert "trigger handler pattern" in teammate
    other_team = _context_of("U3", "2.0", "Fix the AccountTrigger", team="T2")
    assert "trigger handler pattern" not in other_team
    no_team = _context_of("U1", "3.0", "Fix the AccountTrigger")
    assert "trigger handler pattern" not in no_team  # a team memory needs the team's thread


def test_the_same_fact_is_one_memory_and_only_relevant_ones_are_sent(
    database: str, scripted_model: ScriptedModelServer
) -> None:
    first = remember("U1", "Run tests with RunLocalTests.", importance=4)
    again = remember("U1", "  run TESTS with runlocaltests  ", importance=7)
    assert again.id == first.id
    assert (again.text, again.importance) == ("run TESTS with runlocaltests", 7)
    remember("U1", "The sandbox refresh happens on Fridays.", importance=3)
    remember("U1", "Never deploy to production without an approval.", importance=9)
    assert len(list_memories("U1")) == 3
    system = _context_of("U1", "1.0", "which tests should the deployment run?")
    assert "run TESTS with runlocaltests" in system  # shares "tests"
    assert "without an approval" in system  # importance 9: always
    assert "sandbox refresh" not in system  # shares nothing, importance 3


def test_users_list_and_forget_their_own_memories(
    database: str, scripted_model: ScriptedModelServer
) -> None:
    mine = remember("U1", "I review Apex in the mornings.")
    remember("U1", "I prefer Apex classes with sharing.")
    team = remember("U1", "The team deploys on Tuesdays.", team_id="T1")
    theirs = remember("U2", "Bob works on Flows.")
    assert {m.id for m in list_memories("U1")} == {mine.id, team.id, mine.id + 1}
    with pytest.raises(NotFound):
        forget("U1", memory_id=theirs.id)  # not theirs to delete
    with pytest.raises(InvalidInput, match="2 of your memories match"):
        forget("U1", text="apex")
    assert len(list_memories("U1")) == 3  # the refused request deleted nothing
    assert [m.id for m in forget("U1", text="I review Apex in the mornings!")] == [mine.id]
    assert [m.id for m in forget("U1", memory_id=team.id)] == [team.id]
    with pytest.raises(NotFound):
        forget("U1", text="mornings")
    assert [m.text for m in list_memories("U2")] == ["Bob works on Flows."]
    with pytest.raises(InvalidInput, match="credential"):
        remember("U1", "the api key: sk-ant-abc123")


def test_memories_are_extracted_from_a_workflow_summary_and_survive_its_conversation(
    database: str, scripted_model: ScriptedModelServer
) -> None:
    conversation = get_or_create_conversation(
        "U1", channel_id="C1", thread_ts="9.0", team_id="T1", workflow_id="wf-1"
    )
    summary = (
        "Fixed the NPE in AccountTrigger on bulk insert. Our org always uses the trigger "
        "handler pattern. I prefer small pull requests. The run took 4 minutes."
    )
    found = extract_memories(
        "U1",
        summary,
        team_id="T1",
        conversation_id=conversation.id,
        source_ref="wf-1",
    )
    assert scripted_model.conversation_stats()["memories"] == 1
    assert {(m.text, m.scope, m.source) for m in found} == {
        (
            "Our org always uses the trigger handler pattern.",
            MemoryScope.TEAM,
            MemorySource.WORKFLOW,
        ),
        ("I prefer small pull requests.", MemoryScope.USER, MemorySource.WORKFLOW),
    }
    assert {m.source_ref for m in found} == {"wf-1"}
    delete_conversation(conversation.id, "U1")
    kept = list_memories("U1", team_id="T1")
    assert len(kept) == 2
    assert {m.conversation_id for m in kept} == {None}


def test_a_conversation_teaches_its_user_and_team(
    database: str, scripted_model: ScriptedModelServer
) -> None:
    conversation = get_or_create_conversation("U1", channel_id="C1", thread_ts="8.0", team_id="T1")
    add_message(conversation.id, Role.USER, "Fix the NPE. We never use SeeAllData in tests.")
    add_message(conversation.id, Role.ASSISTANT, "Fixed in AccountTriggerHandler.")
    learned = learn_from_conversation(conversation.id)
    assert [(m.text, m.scope, m.source, m.source_ref) for m in learned] == [
        (
            "We never use SeeAllData in tests.",
            MemoryScope.TEAM,
            MemorySource.CONVERSATION,
            conversation.id,
        )
    ]
    # A teammate's next thread knows it.
    assert "SeeAllData" in _context_of("U2", "8.1", "How do we write tests here?", team="T1")
