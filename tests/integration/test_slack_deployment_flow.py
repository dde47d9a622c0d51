"""A whole `deployment` run driven only through signed Slack requests on the local stack.

Slack → loopback gateway → the real handlers → async self-invoke through moto → the Slack
worker → workflows on moto's Step Functions interpreter; agent steps are answered by the
worker double; every message autodev sends lands in the local Slack sink over real HTTP.
The thread's root is the workflow's one live status message (edited, never reposted), and
the result is posted once in the thread by the Slack result callback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from autodev.config import get_settings
from autodev.local import delivery
from autodev.local.slack.sender import SlackSender
from autodev.local.slack.services import GATEWAY_URL_ENV, SERVICES, SINK_URL_ENV
from autodev.local.slack.sink import RecordedCall, RemoteSink
from autodev.local.stack import LocalStack
from autodev.local.testing import WorkerDouble, default_answer, wait_for
from autodev.orchestrator.progress_hook import ProgressHook
from autodev.orchestrator.queue import ClaimedTask
from autodev.slack import views

SECRET = "deployment-flow-signing-secret-0123"
CHANNEL = "CDEPLOYS"


@pytest.fixture
def slack_stack(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    monkeypatch.setenv("APPROVERS", "UAPPROVER,UOTHERAPPROVER")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    get_settings.cache_clear()
    # No scaler poke: the worker double answers the agent steps (no worker processes).
    services = [*SERVICES, delivery.SERVICE]
    with LocalStack(services=services, poke_scaler=False) as stack:
        yield stack
    get_settings.cache_clear()


def _reporting_answer(task: ClaimedTask) -> dict[str, Any]:
    # Reports progress through the real worker's hook, as the Claude worker does.
    hook = ProgressHook(task.id, min_interval=0)
    hook.start(task.task_type, task.workflow_id, task.step_name)
    hook.update(stage="Claude Code", stage_progress=50, status_message="working")
    answer = default_answer(task)
    hook.finish(True, str(answer["summary"]), {"messages": 3, "tokens": 1200})
    return answer


@pytest.fixture
def worker(slack_stack: LocalStack) -> Iterator[WorkerDouble]:
    double = WorkerDouble(respond=_reporting_answer).start()
    try:
        yield double
    finally:
        double.stop()


def _started(sink: RemoteSink, requester: SlackSender, command: str) -> tuple[str, str]:
    """Start a workflow with a slash command: its id, and the ts of its thread's root."""
    _, key = requester.command(command)
    match = re.search(r"id `([0-9a-f-]{36})`", _answer_to(sink, key).text)
    assert match
    root = _thread_root(sink)
    assert root.ts is not None
    return match.group(1), root.ts


def _thread_root(sink: RemoteSink) -> RecordedCall:
    """The one message posted in the channel outside any thread: the workflow's thread."""
    [root] = [
        c
        for c in sink.calls("chat.postMessage")
        if c.channel == CHANNEL and not c.args.get("thread_ts")
    ]
    return root


def _answer_to(sink: RemoteSink, key: str) -> RecordedCall:
    def found() -> RecordedCall | None:
        return next((c for c in sink.calls("response_url") if c.key == key), None)

    call: RecordedCall = wait_for(found, what=f"the answer through response_url {key}")
    return call


def _action_values(call: RecordedCall, action_id: str) -> list[str]:
    values = []
    for block in call.args.get("blocks") or []:
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                values.append(str(element["value"]))
    return values


def _workflow_status(workflow_id: str) -> str:
    from autodev.workflows import get_workflow_status

    return get_workflow_status(workflow_id).status


def _root_edits(sink: RemoteSink, thread: str) -> list[RecordedCall]:
    return [c for c in sink.calls("chat.update") if c.channel == CHANNEL and c.ts == thread]


def test_deployment_driven_from_slack(slack_stack: LocalStack, worker: WorkerDouble) -> None:
    sink = RemoteSink(os.environ[SINK_URL_ENV])
    requester = SlackSender(
        SECRET, os.environ[GATEWAY_URL_ENV], user_id="UREQUESTER", channel_id=CHANNEL
    )

    # 1. /workflow start: answered at once (with nothing to show yet: the worker checks the
    # template and input before anything is posted), the work continues in the Slack worker.
    answer, key = requester.command("/workflow start deployment staging test_level=RunLocalTests")
    assert answer.status == 200
    assert answer.text == ""
    started = _answer_to(sink, key)
    match = re.search(r"id `([0-9a-f-]{36})`", started.text)
    assert match, started.text
    workflow_id = match.group(1)
    # The link to the execution leads to the local page (no AWS console for a local run).
    assert f"{sink.url}/executions/deployment-" in started.text
    assert "console.aws.amazon.com" not in started.text
    opened = _thread_root(sink)
    thread = opened.ts
    assert thread is not None
    # The thread's root became the live status message: edited in place, not a second post.
    [root, *_] = _root_edits(sink, thread)
    assert "deployment" in root.block_text()
    assert workflow_id in root.block_text()
    assert _action_values(root, views.CANCEL) == [workflow_id]

    # 2. The approval card is posted in the thread, its buttons carry the approval id.
    def approval_card() -> RecordedCall | None:
        for call in sink.calls("chat.postMessage"):
            if call.thread_ts == thread and _action_values(call, views.APPROVE):
                return call
        return None

    card: RecordedCall = wait_for(approval_card, timeout=60, what="the approval card")
    [approval_id] = _action_values(card, views.APPROVE)
    # What a release manager decides from, in words: no raw JSON.
    shown = card.block_text()
    for fact in (
        "Approval needed: deployment to staging",
        "*Target org*\nstaging",
        "*Test level*\nRunLocalTests",
        "Validation passed",
        "<@UREQUESTER> asks to deploy",
        "*Expires*",
        "/executions/deployment-",
    ):
        assert fact in shown, (fact, shown)
    assert "{" not in shown
    assert "usage" not in shown
    assert len(shown) < 1500
    assert _action_values(card, views.REJECT) == [approval_id]
    assert "token" not in approval_id.lower()
    assert len(approval_id) < 64  # an opaque id, not a Step Functions task token
    assert _workflow_status(workflow_id) == "waiting_approval"
    # The validation step's progress rolled up into the status message (1 of 3 agent steps).
    wait_for(
        lambda: "33%" in _root_edits(sink, thread)[-1].block_text(),
        what="the validation's progress on the status message",
    )
    shown = _root_edits(sink, thread)[-1].block_text()
    assert "✅ Validate deployment" in shown
    assert "▫️ Deploy to org" in shown
    assert "1,200 tokens" in shown

    # 3. Someone who is not an approver is refused, and the workflow keeps waiting.
    _, intruder_key = requester.click(
        views.APPROVE, approval_id, message_ts=card.ts, thread_ts=thread, user_id="UINTRUDER"
    )
    refused = _answer_to(sink, intruder_key)
    assert refused.args.get("replace_original") is False
    assert refused.args.get("response_type") == "ephemeral"
    assert "approver" in refused.text.lower()
    assert _workflow_status(workflow_id) == "waiting_approval"

    # 4. An approver approves: the card is replaced by the decision.
    _, approve_key = requester.click(
        views.APPROVE, approval_id, message_ts=card.ts, thread_ts=thread, user_id="UAPPROVER"
    )
    approved = _answer_to(sink, approve_key)
    assert approved.args.get("replace_original") is True
    assert "*Approved* by <@UAPPROVER> at " in approved.block_text()
    # The card itself in the thread: closed, with who and when, and no buttons left.
    [closed] = [m for m in sink.messages(CHANNEL, thread) if m["ts"] == card.ts]
    assert "*Approved* by <@UAPPROVER> at " in str(closed["blocks"])
    assert not [b for b in closed["blocks"] if b["type"] == "actions"]

    # 5. A second click is told it is already decided.
    _, late_key = requester.click(
        views.REJECT, approval_id, message_ts=card.ts, thread_ts=thread, user_id="UOTHERAPPROVER"
    )
    late = _answer_to(sink, late_key)
    assert "already approved" in late.text

    # 6. The run finishes; its result is posted in the thread (promptly: the finishing step
    # kicks the delivery), and the status message shows the end.
    wait_for(
        lambda: _workflow_status(workflow_id) == "succeeded", timeout=120, what="the deployment"
    )

    def results_in_thread() -> list[RecordedCall]:
        return [
            call
            for call in sink.calls("chat.postMessage")
            if call.thread_ts == thread
            and (call.args.get("metadata") or {}).get("event_type") == "autodev_result"
        ]

    [result] = wait_for(results_in_thread, timeout=30, what="the result in the thread")
    assert "deployment succeeded" in result.text
    assert result.seq > card.seq
    assert worker.steps_answered() == ["Validate deployment", "Deploy to org", "Run smoke tests"]
    wait_for(
        lambda: "Completed" in _root_edits(sink, thread)[-1].block_text(),
        what="the status message's final state",
    )
    final = _root_edits(sink, thread)[-1]
    assert "100%" in final.block_text()
    assert not _action_values(final, views.CANCEL)

    # 7. A mention in the thread is answered with the workflow's status.
    mention = requester.mention("status", thread_ts=thread)
    assert mention.status == 200

    def status_reply() -> RecordedCall | None:
        for call in sink.calls("chat.postMessage"):
            if call.thread_ts == thread and "Here is where it stands" in call.text:
                return call
        return None

    reply: RecordedCall = wait_for(status_reply, what="the answer to the mention")
    assert workflow_id in reply.block_text()

    # 8. /workflow status shows where the result went; the execution name the messages show,
    # or its hex part (the short id), find the workflow as its id does.
    short = workflow_id.replace("-", "")[:8]
    for reference in (workflow_id, f"deployment-{short}", short):
        status_answer, status_key = requester.command(f"/workflow status {reference}")
        assert status_answer.status == 200
        shown = _answer_to(sink, status_key).block_text()
        assert workflow_id in shown, reference
        assert "Result deliveries" in shown
        assert f"slack → {CHANNEL}: delivered (1/10 attempts)" in shown
    _, unknown_key = requester.command(f"/workflow status bug-fix-{short}")
    assert f"no workflow 'bug-fix-{short}'" in _answer_to(sink, unknown_key).text

    # The audit trail names each Slack user one way: by their user id.
    from autodev import audit

    actors = {entry["actor"] for entry in audit.recent(500)}
    assert {"UREQUESTER", "UAPPROVER", "UINTRUDER"} <= actors
    assert not [actor for actor in actors if actor.startswith("slack:")]

    # One status message and one result message in all: nothing was posted twice.
    assert len(results_in_thread()) == 1
    posted = [c for c in sink.calls("chat.postMessage") if c.channel == CHANNEL]
    assert [c.ts for c in posted].count(thread) == 1
    assert all(c.thread_ts == thread for c in posted if c.ts != thread)


def test_a_redelivered_start_starts_one_workflow(slack_stack: LocalStack) -> None:
    from autodev.db import connection

    sink = RemoteSink(os.environ[SINK_URL_ENV])
    requester = SlackSender(SECRET, os.environ[GATEWAY_URL_ENV], channel_id=CHANNEL)
    body, key = requester.command_body("/workflow start bug-fix AccountTrigger NPE")
    first = requester.send("/slack/commands", body)
    retried = requester.send("/slack/commands", body, extra_headers={"X-Slack-Retry-Num": "1"})
    again = requester.send("/slack/commands", body)  # same trigger id, no retry header
    assert (first.status, retried.status, again.status) == (200, 200, 200)

    def answers() -> list[RecordedCall] | None:
        found = [c for c in sink.calls("response_url") if c.key == key]
        return found if len(found) >= 2 else None

    both: list[Any] = wait_for(answers, what="both deliveries to be answered")
    assert any("Already started" in call.text for call in both)
    with connection() as conn:
        row = conn.execute("SELECT count(*) AS n FROM workflows").fetchone()
    assert row is not None
    assert row["n"] == 1


def test_cancel_is_for_the_requester_the_approvers_and_the_admins(
    slack_stack: LocalStack,
) -> None:
    from autodev import audit

    sink = RemoteSink(os.environ[SINK_URL_ENV])
    requester = SlackSender(
        SECRET, os.environ[GATEWAY_URL_ENV], user_id="UREQUESTER", channel_id=CHANNEL
    )
    workflow_id, thread = _started(sink, requester, "/workflow start bug-fix AccountTrigger NPE")

    # Someone else: the Cancel button and /workflow cancel are refused alike, only to them.
    _, click_key = requester.click(
        views.CANCEL, workflow_id, message_ts=thread, thread_ts=thread, user_id="UINTRUDER"
    )
    refused = _answer_to(sink, click_key)
    assert refused.args.get("response_type") == "ephemeral"
    assert refused.args.get("replace_original") is False
    assert f"UINTRUDER may not cancel workflow {workflow_id}" in refused.text
    intruder = SlackSender(
        SECRET, os.environ[GATEWAY_URL_ENV], user_id="UINTRUDER", channel_id=CHANNEL
    )
    _, command_key = intruder.command(f"/workflow cancel {workflow_id}")
    assert "UINTRUDER may not cancel" in _answer_to(sink, command_key).text
    assert _workflow_status(workflow_id) == "running"
    refusals = [e for e in audit.recent(50, target=workflow_id) if e["actor"] == "UINTRUDER"]
    assert [e["action"] for e in refusals].count("workflow.cancel_refused") == 2

    # An approver may: the card is replaced by the cancelled workflow, without its button.
    _, approver_key = requester.click(
        views.CANCEL, workflow_id, message_ts=thread, thread_ts=thread, user_id="UAPPROVER"
    )
    cancelled = _answer_to(sink, approver_key)
    assert cancelled.args.get("replace_original") is True
    assert _workflow_status(workflow_id) == "cancelled"
    assert not _action_values(cancelled, views.CANCEL)
    trail = audit.recent(50, target=workflow_id)
    [done] = [e for e in trail if e["action"] == "workflow.cancelled"]
    assert done["actor"] == "UAPPROVER"


def test_cancelled_from_the_cli_the_cards_in_slack_lose_their_buttons(
    slack_stack: LocalStack, worker: WorkerDouble
) -> None:
    from typer.testing import CliRunner

    from autodev.cli import app

    sink = RemoteSink(os.environ[SINK_URL_ENV])
    requester = SlackSender(
        SECRET, os.environ[GATEWAY_URL_ENV], user_id="UREQUESTER", channel_id=CHANNEL
    )
    workflow_id, thread = _started(sink, requester, "/workflow start deployment staging")

    def card() -> dict[str, Any] | None:
        for message in sink.messages(CHANNEL, thread):
            if "Approval needed" in str(message["blocks"]):
                return message
        return None

    posted: dict[str, Any] = wait_for(card, timeout=60, what="the approval card")
    cancelled = CliRunner().invoke(app, ["workflow", "cancel", workflow_id, "--as", "UAPPROVER"])
    assert cancelled.exit_code == 0, cancelled.output

    def buttons(message: dict[str, Any]) -> list[str]:
        return [
            str(element.get("action_id"))
            for block in message["blocks"]
            if block["type"] == "actions"
            for element in block["elements"]
        ]

    def closed() -> dict[str, Any] | None:
        [now] = [m for m in sink.messages(CHANNEL, thread) if m["ts"] == posted["ts"]]
        return now if not buttons(now) else None

    shown = str(wait_for(closed, what="the approval card closed")["blocks"])
    assert "*Cancelled* by <@UAPPROVER> at " in shown

    def root() -> dict[str, Any]:
        [message] = [m for m in sink.messages(CHANNEL) if m["ts"] == thread]
        return message

    wait_for(lambda: views.CANCEL not in buttons(root()), what="the status message's end")
    assert "Cancelled" in str(root()["blocks"])


def test_a_start_that_would_be_refused_posts_nothing_in_the_channel(
    slack_stack: LocalStack,
) -> None:
    sink = RemoteSink(os.environ[SINK_URL_ENV])
    requester = SlackSender(SECRET, os.environ[GATEWAY_URL_ENV], channel_id=CHANNEL)
    for command, error in (
        ("/workflow start code-reveiw AccountService", "There is no template `code-reveiw`"),
        ("/workflow start deployment", "'target_org' is a required property"),
    ):
        answer, key = requester.command(command)
        assert (answer.status, answer.text) == (200, "")  # nothing said before it is checked
        refused = _answer_to(sink, key)
        assert error in refused.text, refused.text
        assert refused.args.get("response_type") == "ephemeral"  # told to the requester only
    # No "Starting ..." was posted (or posted and deleted) in the channel.
    assert [c.method for c in sink.calls() if c.channel == CHANNEL] == []


def test_a_started_workflow_points_at_the_thread_opened_beside_its_start(
    slack_stack: LocalStack,
) -> None:
    from autodev.db import connection

    sink = RemoteSink(os.environ[SINK_URL_ENV])
    requester = SlackSender(SECRET, os.environ[GATEWAY_URL_ENV], channel_id=CHANNEL)
    # The thread's first message is posted while the start is checked; the workflow is
    # recorded with it all the same: its row, its result's callback and its status message.
    workflow_id, thread = _started(sink, requester, "/workflow start bug-fix AccountTrigger NPE")
    with connection() as conn:
        row = conn.execute(
            "SELECT slack_channel, slack_thread_ts, callback FROM workflows WHERE id = %s",
            (workflow_id,),
        ).fetchone()
    assert row is not None
    assert (row["slack_channel"], row["slack_thread_ts"]) == (CHANNEL, thread)
    assert row["callback"] == {"type": "slack", "channel": CHANNEL, "thread_ts": thread}
    from autodev.progress import slack_updates

    # Its live status is the thread's root, edited in place.
    state = slack_updates.message_state(workflow_id)
    assert state is not None
    assert (state["channel"], state["ts"]) == (CHANNEL, thread)
    assert [c for c in sink.calls("chat.delete") if c.channel == CHANNEL] == []


def test_a_start_that_fails_says_so_and_takes_its_thread_back(
    slack_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autodev.db import connection

    sink = RemoteSink(os.environ[SINK_URL_ENV])
    requester = SlackSender(SECRET, os.environ[GATEWAY_URL_ENV], channel_id=CHANNEL)
    # Every check passes and the thread is opened; then StartExecution fails (no such state
    # machine): the requester is told, the message is deleted, no workflow is left.
    monkeypatch.setenv(
        "AUTODEV_STATE_MACHINE_ARN_PREFIX",
        "arn:aws:states:us-east-1:123456789012:stateMachine:nothing-here-",
    )
    get_settings.cache_clear()
    _, key = requester.command("/workflow start bug-fix AccountTrigger NPE")
    failed = _answer_to(sink, key)
    assert failed.text.startswith(":warning:"), failed.text
    assert "start bug-fix" in failed.text
    root = _thread_root(sink)
    deleted = [c for c in sink.calls("chat.delete") if c.channel == CHANNEL]
    assert [c.args.get("ts") or c.ts for c in deleted] == [root.ts]
    assert sink.messages(CHANNEL) == []
    with connection() as conn:
        row = conn.execute("SELECT count(*) AS n FROM workflows").fetchone()
    assert row is not None
    assert row["n"] == 0
