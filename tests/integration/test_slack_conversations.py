"""Conversations through the real Slack handlers (signed requests, the loopback gateway, the
Slack worker, the local sink; real Postgres; autodev's own model calls through the anthropic
SDK to the scripted model server): memories added, listed and forgotten from Slack reach the
user's next conversation and no one else's, and a workflow's thread is a conversation whose
lasting facts are learnt when the workflow ends."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator

import pytest

from autodev import conversations, workflows
from autodev.config import get_settings
from autodev.conversations import MemoryScope, MemorySource
from autodev.errors import InvalidInput
from autodev.local import delivery
from autodev.local.model import service as scripted_model
from autodev.local.model.server import ScriptedModelServer
from autodev.local.slack.sender import SlackSender
from autodev.local.slack.services import GATEWAY_URL_ENV, SERVICES, SINK_URL_ENV
from autodev.local.slack.sink import RecordedCall, RemoteSink
from autodev.local.stack import LocalStack
from autodev.local.testing import WorkerDouble, wait_for, wait_until_finished
from autodev.orchestrator.queue import ClaimedTask

SECRET = "conversation-flow-signing-secret-0123"
CHANNEL = "CCONVERSE"
TEAM = "TLOCAL"


@pytest.fixture
def slack_stack(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    monkeypatch.setenv("AUTODEV_MODEL_PROVIDER", "scripted")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    get_settings.cache_clear()
    services = [*SERVICES, delivery.SERVICE, scripted_model.SERVICE]
    with LocalStack(services=services, poke_scaler=False) as stack:
        yield stack
    get_settings.cache_clear()


def _sender(user: str) -> SlackSender:
    return SlackSender(SECRET, os.environ[GATEWAY_URL_ENV], user_id=user, channel_id=CHANNEL)


def _answer(sink: RemoteSink, key: str) -> RecordedCall:
    found: RecordedCall = wait_for(
        lambda: next((c for c in sink.calls("response_url") if c.key == key), None),
        what=f"the answer to {key}",
    )
    return found


def _posted(sink: RemoteSink, needle: str, after: int = -1) -> RecordedCall:
    found: RecordedCall = wait_for(
        lambda: next(
            (c for c in sink.calls("chat.postMessage") if needle in c.text and c.seq > after),
            None,
        ),
        timeout=30,
        what=f"a message with {needle!r}",
    )
    return found


def test_memories_from_slack_reach_the_users_next_conversation_and_no_one_elses(
    slack_stack: LocalStack,
) -> None:
    sink = RemoteSink(os.environ[SINK_URL_ENV])
    carol, dave = _sender("UCAROL"), _sender("UDAVE")

    _, key = carol.command("/workflow remember Run tests with RunLocalTests before deploying")
    assert ":brain: Remembered as your memory" in _answer(sink, key).text
    _, key = carol.command("/workflow remember --team Our org uses the trigger handler pattern")
    assert "the team's memory" in _answer(sink, key).text
    _, key = carol.command("/workflow remember the api_key: sk-ant-abc123")
    assert "looks like a credential" in _answer(sink, key).text
    answer, _ = carol.command("/workflow remember")
    assert "needs a fact" in answer.text  # refused on the request path, nothing sent on

    _, key = carol.command("/workflow memories")
    listed = _answer(sink, key)
    assert listed.args.get("response_type") == "ephemeral"
    assert "RunLocalTests" in listed.block_text()
    assert "trigger handler pattern" in listed.block_text()
    _, key = dave.command("/workflow memories")
    theirs = _answer(sink, key).block_text()
    assert "trigger handler pattern" in theirs  # the team's
    assert "RunLocalTests" not in theirs  # Carol's own

    # A mention outside any workflow's thread starts a conversation of its own, answered by
    # Claude with what the asker remembers (the scripted answer says what it was given).
    carol.mention("how do I run tests for AccountTrigger?", thread_ts=None)
    carols = _posted(sink, "You said: “how do I run tests")
    assert "1 memories" in carols.text
    dave.mention("how do I run tests for AccountTrigger?", thread_ts=None)
    daves = _posted(sink, "You said: “how do I run tests", after=carols.seq)
    assert "memories" not in daves.text
    assert carols.thread_ts != daves.thread_ts  # two threads, two conversations
    owners = {c.user_id for c in conversations.list_conversations("UCAROL")} | {
        c.user_id for c in conversations.list_conversations("UDAVE")
    }
    assert owners == {"UCAROL", "UDAVE"}

    # @autodev forget: only one's own memories.
    dave.mention("forget RunLocalTests", thread_ts=None)
    _posted(sink, ":warning: no memory of yours matches")
    carol.mention("forget RunLocalTests", thread_ts=None)
    _posted(sink, ":wastebasket: Forgotten")
    left = conversations.list_memories("UCAROL", team_id=TEAM)
    assert [memory.scope for memory in left] == [MemoryScope.TEAM]


def test_a_workflow_thread_is_a_conversation_whose_facts_are_learnt_when_it_ends(
    slack_stack: LocalStack,
) -> None:
    sink = RemoteSink(os.environ[SINK_URL_ENV])
    carol = _sender("UCAROL")
    released = threading.Event()

    def hold(task: ClaimedTask) -> bool:
        return not released.is_set()

    worker = WorkerDouble(hold=hold).start()
    try:
        _, key = carol.command("/workflow start code-review force-app/main/default/classes")
        started = _answer(sink, key)
        match = re.search(r"id `([0-9a-f-]{36})`", started.text)
        assert match, started.text
        workflow_id = match.group(1)
        [root] = [c for c in sink.calls("chat.postMessage") if c.channel == CHANNEL]
        thread = str(root.ts)
        conversation = conversations.conversation_for_thread(CHANNEL, thread)
        assert conversation is not None
        assert (conversation.workflow_id, conversation.user_id) == (workflow_id, "UCAROL")
        assert conversation.team_id == TEAM
        [start] = conversations.list_messages(conversation.id)
        assert start.content.startswith("Workflow code-review started by UCAROL")

        # A question in the thread: recorded and answered from the conversation.
        carol.mention("Why is it slow? We always run tests with RunLocalTests.", thread_ts=thread)
        reply = _posted(sink, "You said: “Why is it slow?")
        assert reply.thread_ts == thread
        turns = [(m.role.value, m.content) for m in conversations.list_messages(conversation.id)]
        assert turns[1] == ("user", "Why is it slow? We always run tests with RunLocalTests.")
        assert turns[2] == ("assistant", reply.text)
        # More work while it runs is noted, not started (its branch is still moving).
        carol.mention("also fix the test class", thread_ts=thread)
        _posted(sink, "is still running; I noted your request")
        assert workflows.latest_in_thread(CHANNEL, thread) == workflow_id
        released.set()
        assert wait_until_finished(workflow_id, timeout=60).status == "succeeded"
    finally:
        worker.stop()

    # When it ended, its lasting facts became memories of the team (best effort, after).
    learnt = wait_for(
        lambda: [
            m
            for m in conversations.list_memories("UCAROL", team_id=TEAM)
            if m.source is MemorySource.CONVERSATION
        ],
        what="the memories learnt from the thread",
    )
    [fact] = [m for m in learnt if "RunLocalTests" in m.text]
    assert fact.text == "We always run tests with RunLocalTests."
    assert (fact.scope, fact.conversation_id) == (MemoryScope.TEAM, conversation.id)
    ended = [m.content for m in conversations.list_messages(conversation.id)]
    assert any(f"Workflow {workflow_id} finished: succeeded" in text for text in ended)


def test_a_workflow_end_handed_to_the_slack_worker_is_noted_and_one_that_does_not_fit_is_not(
    database: str, scripted_model: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autodev.local.slack.gateway import LocalContext, load_handler

    monkeypatch.setenv("AUTODEV_MODEL_PROVIDER", "scripted")
    get_settings.cache_clear()
    worker = load_handler("slack_worker")
    context = LocalContext("slack_worker", "req-end")
    conversation = conversations.get_or_create_conversation(
        "UCAROL", channel_id=CHANNEL, thread_ts="1.5", workflow_id="wf-ended"
    )
    unfit: list[object] = [
        "succeeded",
        {"workflow_id": "", "status": "succeeded", "summary": ""},
        {"workflow_id": "wf-ended", "status": "running", "summary": ""},
        {"workflow_id": "wf-ended", "status": "succeeded", "summary": 3},
    ]
    for end in unfit:
        with pytest.raises(InvalidInput, match="workflow_end"):
            worker({"workflow_end": end}, context)
    assert conversations.list_messages(conversation.id) == []

    fits = {"workflow_id": "wf-ended", "status": "succeeded", "summary": "Fixed the trigger."}
    assert worker({"workflow_end": fits, "correlation_id": "c-1"}, context) == {"ok": True}
    [note] = conversations.list_messages(conversation.id)
    assert note.content == "Workflow wf-ended finished: succeeded. Fixed the trigger."
    assert scripted_model.conversation_stats().get("memories") == 1  # and it was learnt from
