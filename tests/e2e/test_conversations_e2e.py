"""A Slack thread is a conversation, on the whole local stack: a bug fix started with a signed
``/workflow start`` on a registered repository (real Postgres, moto's Step Functions, worker
processes running the real Claude Code CLI on the scripted model, git pushing to a bare
repository), a question in its thread answered by Claude from the conversation, and a request
for more work starting a follow-up run on the workflow's branch (the same branch, the same pull
request) whose agent steps are told the earlier turns and the repository's CLAUDE.md."""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autodev import callbacks, conversations, repos, workflows
from autodev.config import get_settings
from autodev.conversations.prompts import KNOWLEDGE_HEADING, TRANSCRIPT_HEADING
from autodev.db import connection
from autodev.local import LocalStack, delivery, git_host, orchestrator
from autodev.local import salesforce as local_salesforce
from autodev.local.model import service as scripted_model
from autodev.local.model.server import ScriptedModelServer
from autodev.local.slack.sender import SlackSender
from autodev.local.slack.services import GATEWAY_URL_ENV, SERVICES, SINK_URL_ENV
from autodev.local.slack.sink import RecordedCall, RemoteSink
from autodev.local.testing import wait_for, wait_until_finished
from autodev.models.providers import SCRIPTED_MODEL_URL_ENV
from autodev.orchestrator.workspace import REPO_ROOT
from autodev.workflows import sfn

pytestmark = pytest.mark.e2e

SECRET = "conversation-e2e-signing-secret-0123"
CHANNEL = "CFOLLOWUPS"
USER = "UCAROL"
INSTRUCTIONS = "Run tests with RunLocalTests; triggers delegate to handler classes."
# Said in the request, so in the conversation: a lasting fact, learnt when the run ends.
CONVENTION = "We always deploy Apex classes with their tests."


git = git_host.read_git


@pytest.fixture
def stack(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    monkeypatch.setenv("AUTODEV_MODEL_PROVIDER", "scripted")
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "5000")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    get_settings.cache_clear()
    services = [
        *SERVICES,
        delivery.SERVICE,
        scripted_model.SERVICE,
        git_host.SERVICE,
        local_salesforce.SERVICE,  # bug-fix's verification runs the Apex tests in 'ci'
        orchestrator.SERVICE,
    ]
    with LocalStack(services=services) as running:
        yield running
    get_settings.cache_clear()


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT / "examples", source)
    (source / "CLAUDE.md").write_text(f"# Conventions\n\n{INSTRUCTIONS}\n")
    return git_host.make_bare_repository(tmp_path / "salesforce.git", source)


def _thread_reply(sink: RemoteSink, thread: str, needle: str) -> RecordedCall:
    def found() -> RecordedCall | None:
        return next(
            (
                call
                for call in sink.calls("chat.postMessage")
                if call.thread_ts == thread and needle in call.text
            ),
            None,
        )

    reply: RecordedCall = wait_for(found, timeout=60, what=f"a reply with {needle!r}")
    return reply


def _agent_context(task_id: str) -> str:
    url = f"{os.environ[SCRIPTED_MODEL_URL_ENV]}/_scripted/tasks/{task_id}"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        stats: dict[str, Any] = json.loads(response.read())
    return str(stats["appended_context"])


def _tasks(workflow_id: str) -> dict[str, str]:
    with connection() as conn:
        found = conn.execute(
            "SELECT id::text, step_name FROM autonomous_tasks WHERE workflow_id = %s",
            (workflow_id,),
        ).fetchall()
    return {str(row["step_name"]): str(row["id"]) for row in found}


def _learnt(workflow_id: str) -> list[str]:
    with connection() as conn:
        rows = conn.execute(
            """SELECT m.memory_value FROM user_memories m
               JOIN conversations c ON c.id = m.source_conversation_id
               WHERE c.workflow_id = %s""",
            (workflow_id,),
        ).fetchall()
    return [str(row["memory_value"]) for row in rows]


def test_a_thread_s_follow_up_run_sees_the_earlier_turns_and_works_on_the_same_branch(
    stack: LocalStack, bare: Path
) -> None:
    repos.add_repository("salesforce", str(bare), added_by="U1", default=True)
    sink = RemoteSink(os.environ[SINK_URL_ENV])
    carol = SlackSender(SECRET, os.environ[GATEWAY_URL_ENV], user_id=USER, channel_id=CHANNEL)
    model = stack.service("scripted-model")
    assert isinstance(model, ScriptedModelServer)
    # What the conversation teaches is learnt at the workflow's end (a model call): held, to
    # show that the execution does not wait for it.
    model.hold("memories")

    # 1. The workflow starts in a thread of its own, which becomes its conversation.
    answer, key = carol.command(
        "/workflow start bug-fix component=AccountTrigger "
        "AccountTrigger throws a NullPointerException on bulk insert. "
        f"{CONVENTION}"
    )
    assert answer.status == 200
    started = wait_for(
        lambda: next((c for c in sink.calls("response_url") if c.key == key), None),
        what="the start's answer",
    )
    match = re.search(r"id `([0-9a-f-]{36})`", started.text)
    assert match, started.text
    first = match.group(1)
    [root] = [c for c in sink.calls("chat.postMessage") if c.channel == CHANNEL]
    thread = str(root.ts)
    status = wait_until_finished(first, timeout=240)
    assert status.status == "succeeded", (status.error, status.cause)
    # The execution ended, and succeeded, while its learning was held; released, the learning
    # completes. (A last state that waited for it failed when its Lambda call timed out.)
    arn = status.execution_arn
    assert arn is not None
    assert sfn.sfn().describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    wait_for(lambda: model.held("memories") == 1, what="the end's learning, held")
    # Its result goes out while the learning is held: learning from the conversation is a model
    # call, which the people waiting on the result do not wait for.
    wait_for(
        lambda: any(d.status == "delivered" for d in callbacks.delivery_status(first)),
        what="the run's result, delivered while learning",
    )
    assert model.held("memories") == 1
    model.release("memories")
    wait_for(lambda: CONVENTION in _learnt(first), what="what the run's conversation taught")
    first_run = repos.workflow_repository(first)
    assert first_run is not None
    assert first_run.changed
    # Its agent steps were told the repository's CLAUDE.md (not loaded by Claude Code).
    fix_context = _agent_context(_tasks(first)["Implement the fix"])
    assert KNOWLEDGE_HEADING in fix_context
    assert INSTRUCTIONS in fix_context

    conversation = conversations.conversation_for_thread(CHANNEL, thread)
    assert conversation is not None
    assert conversation.workflow_id == first
    notes = wait_for(
        lambda: (
            (
                found := [
                    m.content
                    for m in conversations.list_messages(conversation.id)
                    if m.role is conversations.Role.SYSTEM
                ]
            )
            and any("finished: succeeded" in note for note in found)
            # A step's note comes with its result's publication, in the worker's background,
            # which may land after the workflow's end.
            and any("Step Implement the fix" in note and "succeeded" in note for note in found)
            and found
        ),
        what="the workflow's notes in its conversation",
    )
    assert f"branch {first_run.branch}" in notes[0]  # the start, with the branch
    # 2. A question about the run is answered by Claude from the conversation.
    assert carol.mention("what did the fix change in AccountTrigger?", thread_ts=thread).status
    answered = _thread_reply(sink, thread, "You said: “what did the fix change")
    assert "scripted" in answered.text.lower()
    assert workflows.latest_in_thread(CHANNEL, thread) == first  # nothing was started

    # 3. A request for more work starts a follow-up run of bug-fix on the workflow's branch.
    assert carol.mention("also fix the test class", thread_ts=thread).status == 200
    _thread_reply(sink, thread, f"Starting a follow-up *bug-fix* on `{first_run.branch}`")
    second = wait_for(
        lambda: (latest := workflows.latest_in_thread(CHANNEL, thread)) != first and latest,
        what="the follow-up run",
    )
    status = wait_until_finished(str(second), timeout=240)
    assert status.status == "succeeded", (status.error, status.cause)
    follow_up = repos.workflow_repository(str(second))
    assert follow_up is not None
    # It started where the first run's branch ended.
    assert follow_up.ref == first_run.branch
    assert follow_up.base_commit == first_run.head_commit
    started_input = workflows.get_workflow_status(str(second)).input
    assert started_input["description"] == "also fix the test class"
    assert started_input["component"] == "AccountTrigger"
    # It works on the same branch, and its pull request is the first run's.
    assert follow_up.branch == first_run.branch
    assert follow_up.base_branch == first_run.base_branch
    git(bare, "merge-base", "--is-ancestor", str(first_run.head_commit), follow_up.branch)
    if follow_up.changed:
        assert first_run.pull_request_number is not None
        assert follow_up.pull_request_number == first_run.pull_request_number
        # The follow-up's report is a comment on it; the description stays the first run's.
        pulls = git_host.recorded_pull_requests(
            git_host.host_directory(get_settings().autodev_state_dir.resolve())
        )
        (pull,) = [p for p in pulls if p["number"] == first_run.pull_request_number]
        assert len(pull.get("comments", [])) == 1
        assert "also fix the test class" in pull["comments"][0]

    # 4. Its agent steps were told the earlier turns of the thread, and the knowledge.
    context = _agent_context(_tasks(str(second))["Find the root cause"])
    assert TRANSCRIPT_HEADING in context
    assert "what did the fix change in AccountTrigger?" in context
    assert "also fix the test class" in context
    assert "Step Implement the fix" in context  # the first run's step summary
    assert INSTRUCTIONS in context
    # And both runs are in the one conversation of the thread.
    texts = wait_for(
        lambda: (
            (found := [m.content for m in conversations.list_messages(conversation.id)])
            and any(f"Workflow {second} finished" in text for text in found)
            and found
        ),
        what="the follow-up's end in the conversation",
    )
    assert any(text.startswith("Follow-up run bug-fix started") for text in texts)
