"""@autodev in Slack: each thread is a conversation that Claude remembers.

Every mention is recorded in its thread's conversation (``autodev.conversations``; a
mention outside a thread opens one at its own message) and answered in the thread:

- ``forget <memory id or text>`` / ``remember <fact>``: the user's memories, as with the
  ``/workflow`` commands.
- ``status`` (or nothing): in a workflow's thread, its status card.
- In a workflow's thread, Claude sorts the message (``conversations.intents``): a question
  about the run is answered from the conversation; a request for more work ("also fix the
  test class") starts a follow-up run of the fitting template on the workflow's branch, whose
  agent steps get the conversation's context. The thread's newest workflow is the one
  followed up, so a second follow-up continues the first's branch; while it still runs, the
  request is noted and the person asked to repeat it once it has finished.
- Outside a workflow's thread: Claude answers from the conversation.

When the model cannot be reached the message stays recorded and the answer says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from slack_sdk.models.blocks import Block

from autodev import audit
from autodev.conversations import Conversation, IntentKind, ModelCallFailed
from autodev.errors import InvalidInput, NotFound
from autodev.observability import best_effort, child_logger
from autodev.slack import memory_views, platform, views
from autodev.slack.client import web_client
from autodev.slack.job_models import MentionJob

logger = child_logger(__name__)

_MENTION = re.compile(r"<@[A-Z0-9]+>")
_STATUS_WORDS = frozenset({"", "status", "status?", "how is it going?"})
_FORGET = re.compile(r"^forget\s+(?P<which>.+)$", re.IGNORECASE | re.DOTALL)
_REMEMBER = re.compile(r"^remember\s+(?P<fact>.+)$", re.IGNORECASE | re.DOTALL)
# A workflow in these states may still push to its branch.
ACTIVE = frozenset({"pending", "running", "waiting_approval"})
NO_MODEL = "I recorded your message in this thread, but could not reach the model to answer"


class _Thread:
    """Where the answers go: the mention's thread (its own message's, outside one)."""

    def __init__(self, job: MentionJob, channel: str) -> None:
        self.channel = channel
        self.ts = job.thread_ts or job.ts or ""
        self.client = web_client()

    def post(self, text: str, blocks: Sequence[Block] | None = None) -> str:
        sent = self.client.chat_postMessage(
            channel=self.channel,
            thread_ts=self.ts or None,
            text=text,
            blocks=views.as_dicts(blocks) if blocks else None,
        )
        return str(sent.get("ts") or "")


def handle(job: MentionJob) -> None:
    channel, user = job.channel_id, job.user_id
    if not channel or not user:
        return
    thread = _Thread(job, channel)
    text = _MENTION.sub("", job.text).strip()
    if _memory_request(job, thread, user, text):
        return
    workflow_id = platform.latest_workflow(channel, job.thread_ts) if job.thread_ts else None
    if workflow_id is None:
        if not text:
            thread.post("Ask me something, or use `/workflow help` to start a workflow.")
            return
        conversation = platform.thread_conversation(user, channel, thread.ts, team_id=job.team_id)
        _answer(thread, conversation, user, text)
        return
    workflow = platform.status(workflow_id)
    conversation = platform.thread_conversation(
        user,
        channel,
        thread.ts,
        team_id=job.team_id,
        workflow_id=workflow_id,
        template=workflow.template,
    )
    audit.record(user, "slack.thread_message", workflow_id, {"text": text})
    if text.lower() in _STATUS_WORDS:
        if text:
            platform.record_message(conversation.id, user, text)
        note = "Here is where it stands."
        thread.post(
            f"{note} {views.fallback_text(workflow)}",
            [*views.notice(note), *views.status_card(workflow, cancel=False)],
        )
        return
    try:
        intent = platform.classify(text, workflow.template)
    except ModelCallFailed as failed:
        platform.record_message(conversation.id, user, text)
        thread.post(f":warning: {NO_MODEL} ({failed}).")
        return
    if intent.kind is IntentKind.WORK:
        _follow_up(job, thread, conversation, workflow, intent.template or workflow.template, text)
    else:
        _answer(thread, conversation, user, text)


def _memory_request(job: MentionJob, thread: _Thread, user: str, text: str) -> bool:
    """``forget ...`` and ``remember ...``: answered here; False for anything else."""
    forget, remember = _FORGET.match(text), _REMEMBER.match(text)
    if not forget and not remember:
        return False
    try:
        if forget:
            thread.post(*memory_views.forgotten(platform.forget(user, forget["which"])))
        elif remember:
            thread.post(*memory_views.remembered(platform.remember(user, remember["fact"], None)))
    except (InvalidInput, NotFound) as refused:
        thread.post(f":warning: {refused}")
    return True


def _answer(thread: _Thread, conversation: Conversation, user: str, text: str) -> None:
    try:
        answered = platform.answer(conversation.id, user, text)
    except ModelCallFailed as failed:
        thread.post(f":warning: {NO_MODEL} ({failed}).")
        return
    thread.post(answered.answer.content)


def _follow_up(
    job: MentionJob,
    thread: _Thread,
    conversation: Conversation,
    workflow: views.WorkflowView,
    template: str,
    text: str,
) -> None:
    """Start a follow-up run in the thread; its status is a message of its own there."""
    user, channel = str(job.user_id), thread.channel
    if not job.event_id:
        thread.post(":warning: That mention carried no event id; please mention me again.")
        return
    platform.record_message(conversation.id, user, text)
    if workflow.status in ACTIVE:
        # Its branch is still moving: more work would start from where it is now.
        thread.post(
            f"`{workflow.execution_name}` is still {workflow.status.replace('_', ' ')}; "
            "I noted your request. Mention me again once it has finished and I will start it "
            "on its branch."
        )
        return
    workflow_input, branch = platform.follow_up_input(workflow.id, template, text)
    where = f" on `{branch}`" if branch else ""
    status_ts = thread.post(f":repeat: Starting a follow-up *{template}*{where} for <@{user}>…")
    try:
        started = platform.start(
            template,
            workflow_input,
            user,
            client_key=f"slack:{job.team_id or '-'}:follow-up:{job.event_id}",
            channel=channel,
            thread_ts=thread.ts,
            status_ts=status_ts or None,
        )
    except Exception:
        if status_ts:
            thread.client.chat_delete(channel=channel, ts=status_ts)
        raise
    follow_up = started.workflow
    if not started.created:
        # A redelivered event: the first delivery started it and said so.
        if status_ts:
            thread.client.chat_delete(channel=channel, ts=status_ts)
        return
    with best_effort("thread_conversation", logger, workflow_id=follow_up.id):
        platform.record_start(
            conversation.id, follow_up, user, workflow_input, follow_up_of=workflow.id
        )
    if status_ts and not platform.has_live_status(follow_up.id):
        thread.client.chat_update(
            channel=channel,
            ts=status_ts,
            text=views.fallback_text(follow_up),
            blocks=views.as_dicts(views.status_card(follow_up)),
        )
