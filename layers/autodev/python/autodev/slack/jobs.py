"""The slow half of a Slack request, run by the Slack worker after Slack has its answer.

``dispatch`` hands a job (a small JSON document with no secrets) to the function named by
``SLACK_WORKER_FUNCTION`` with an asynchronous ``lambda.invoke`` (InvocationType="Event");
on the local stack that goes through moto to the same handler. Without the variable it raises
a ConfigError naming it (never runs the job inline). ``run`` does the work and answers through
the request's ``response_url`` or the workflow's thread.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from autodev.background import started
from autodev.errors import AutodevError, ConfigError, InvalidInput
from autodev.observability import (
    Metric,
    best_effort,
    best_effort_failed,
    child_logger,
    count,
    current_correlation_id,
)
from autodev.slack.commands import Action
from autodev.slack.job_models import (
    CommandJob,
    InteractionJob,
    MentionJob,
    SlackJob,
    job_json,
    parse_job,
)

logger = child_logger(__name__)

WORKER_FUNCTION_ENV = "SLACK_WORKER_FUNCTION"
JOB_KEY = "slack_job"
# A finished workflow's end, for its conversation (``autodev.workflows.finish``).
WORKFLOW_END_KEY = "workflow_end"

__all__ = [
    "JOB_KEY",
    "WORKFLOW_END_KEY",
    "SlackJob",
    "dispatch",
    "hand_workflow_end",
    "parse_job",
    "run",
]


def dispatch(job: SlackJob) -> None:
    function = os.environ.get(WORKER_FUNCTION_ENV)
    if not function:
        raise ConfigError(f"{WORKER_FUNCTION_ENV} is not set: no Slack worker to hand the job to")
    from autodev.aws import invoke_async

    if job.correlation_id is None:
        # The worker's log lines carry the id of the request that asked for the job.
        job = job.model_copy(update={"correlation_id": current_correlation_id()})
    invoke_async(function, {JOB_KEY: job_json(job)})


# The note keeps the summary's first 4,000 characters; an asynchronous invocation's payload may
# not pass 256 KB, whatever the tools reported.
_HANDED_CHARS = 16_000


def hand_workflow_end(workflow_id: str, status: str, summary: str) -> bool:
    """A finished workflow's end handed to the Slack worker (``{"workflow_end": {...}}``,
    asynchronously, in AWS and on the local stack), which notes it in the workflow's
    conversation and learns from it (``autodev.workflows.finish.note_handed_end``), so that the
    execution's last state does not wait for a token count and a model call. False when there
    is no Slack worker or it could not be reached: the caller does it itself."""
    function = os.environ.get(WORKER_FUNCTION_ENV)
    if not function:
        return False
    from autodev.aws import invoke_async

    end = {"workflow_id": workflow_id, "status": status, "summary": summary[:_HANDED_CHARS]}
    try:
        invoke_async(function, {WORKFLOW_END_KEY: end})
    except Exception:
        best_effort_failed("workflow_conversation_handoff", logger, workflow_id=workflow_id)
        return False
    return True


def run(job: SlackJob | Mapping[str, Any]) -> None:
    """Do one job; failures are told to the person who asked, never raised to Slack.

    A job in its JSON form is validated first (``parse_job``): one that does not fit raises
    InvalidInput before anything is done, since there is nobody known to tell."""
    if isinstance(job, Mapping):
        job = parse_job(job)
    try:
        if isinstance(job, CommandJob):
            _command(job)
        elif isinstance(job, InteractionJob):
            _interaction(job)
        else:
            _mention(job)
    except AutodevError as error:
        _respond(job, f":warning: {error}")
    except Exception:
        logger.exception("slack job failed", extra={"kind": job.kind})
        count(Metric.SLACK_REQUESTS_FAILED, kind=job.kind)
        _respond(job, ":warning: Something went wrong on autodev's side; it has been logged.")


# --- answering ---


def _respond(
    job: SlackJob,
    text: str,
    blocks: list[Any] | None = None,
    *,
    in_channel: bool = False,
    replace_original: bool = False,
) -> None:
    from autodev.slack.client import response_url_client, web_client
    from autodev.slack.views import as_dicts

    rendered = as_dicts(blocks) if blocks else None
    if job.response_url:
        response_url_client(job.response_url).send(
            text=text,
            blocks=rendered,
            response_type="in_channel" if in_channel else "ephemeral",
            replace_original=replace_original,
        )
        return
    channel, user = job.channel_id, job.user_id
    if not channel:
        logger.warning("nowhere to answer the Slack job", extra={"kind": job.kind})
        return
    client = web_client()
    if in_channel or not user:
        client.chat_postMessage(
            channel=channel, text=text, blocks=rendered, thread_ts=job.thread_ts
        )
    else:
        client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=rendered)


def _client_key(job: SlackJob, purpose: str) -> str:
    # The same Slack request (trigger id, or the event/action timestamps) always maps to the
    # same key, so a redelivery can never start a second workflow.
    ident = job.request_id
    if not ident:
        raise InvalidInput("the Slack request carries no trigger id; please try again")
    return f"slack:{job.team_id or '-'}:{purpose}:{ident}"


# --- slash commands ---


def _command(job: CommandJob) -> None:
    from autodev import audit
    from autodev.slack import dashboards, platform, views

    action, user = job.action, job.user_id
    # Best effort: what a command changes is audited with the change itself; this record of
    # the request must not stop /monitor from showing that the database is down. A Slack user
    # is named by their user id everywhere on the trail (as the workflows they start, the
    # approvals they answer and what they cancel name them); the action says Slack.
    with best_effort("command_audit", logger, action=action.value):
        audit.record(
            user,
            f"slack.command.{action.value}",
            job.target_id or job.template,
            {"channel": job.channel_id, "input": job.input}
            | ({"schedule": job.schedule, "timezone": job.timezone} if job.schedule else {}),
        )
    if action is Action.LIST:
        _respond(job, "Workflow templates", views.template_list(platform.list_templates()))
    elif action is Action.REPOS:
        from autodev.slack import repositories

        found = platform.list_repositories()
        _respond(job, repositories.repository_text(found), repositories.repository_list(found))
    elif action is Action.START:
        _start(job, str(job.template), dict(job.input), "start")
    elif action is Action.STATUS:
        workflow = platform.status(str(job.target_id))
        _respond(job, views.fallback_text(workflow), views.status_card(workflow))
    elif action is Action.CANCEL:
        workflow = platform.cancel(str(job.target_id), user)
        _respond(job, f"Cancelled {views.fallback_text(workflow)}", views.status_card(workflow))
    elif action in (Action.APPROVE, Action.REJECT):
        decision = platform.decide(str(job.target_id), user, action is Action.APPROVE, job.comment)
        # The card in the thread is closed by the decision itself; this answer shows it too.
        closed = platform.approval_view(platform.approval(decision.approval_id))
        _respond(job, views.approval_text(closed), views.approval_card(closed))
    elif action is Action.SCHEDULE:
        from autodev.slack import schedule_views

        scheduled = platform.schedule(
            str(job.template),
            dict(job.input),
            user,
            expression=str(job.schedule),
            timezone=job.timezone,
            channel=job.channel_id,
        )
        _respond(job, *schedule_views.created(scheduled), in_channel=True)
    elif action is Action.SCHEDULES:
        from autodev.slack import schedule_views

        _respond(job, *schedule_views.listing(platform.schedules_list()))
    elif action is Action.UNSCHEDULE:
        from autodev.slack import schedule_views

        removed = platform.unschedule(str(job.target_id), user)
        _respond(job, *schedule_views.removed(removed, user), in_channel=True)
    elif action is Action.AUDIT:
        from autodev.slack import audit_views

        title, events = platform.audit_trail(str(job.target_id))
        _respond(job, *audit_views.trail(title, events))
    elif action in (Action.REMEMBER, Action.MEMORIES, Action.FORGET):
        _memory(job)
    elif action is Action.MONITOR:
        board = platform.monitor_dashboard()
        _respond(job, dashboards.monitor_text(board), dashboards.monitor(board))
    elif action is Action.ORCHESTRATOR:
        overview = platform.orchestrator_overview()
        _respond(job, dashboards.orchestrator_text(overview), dashboards.orchestrator(overview))
    else:
        raise InvalidInput(f"unknown command action {action.value!r}")


def _start(
    job: CommandJob | InteractionJob, template: str, workflow_input: dict[str, Any], purpose: str
) -> None:
    """Open a thread, start the workflow tied to it, turn the thread's root into its card."""
    from autodev.slack import platform, threads, views
    from autodev.slack.client import web_client

    if template not in platform.template_names():
        raise InvalidInput(f"There is no template `{template}`. `/workflow list` shows them.")
    # Refused input is told before anything is posted (no "Starting" to take back).
    platform.check_start(template, workflow_input)
    user, channel = job.user_id, job.channel_id or ""
    client_key = _client_key(job, purpose)
    client = web_client()
    # The thread's first message is posted while the start is checked (the repository's ref,
    # the client key); the workflow is recorded with the thread once both are done, so its
    # record, progress and result all point at it. No thread (not in the channel): it runs
    # without one. A start that fails or was made already takes the message back.
    opening = _RootMessage(client, channel, f":rocket: Starting *{template}* for <@{user}>…")
    try:
        started = platform.start(
            template,
            workflow_input,
            user,
            client_key=client_key,
            budget_usd=job.budget_usd if isinstance(job, CommandJob) else None,
            channel=channel or None,
            thread_ts=None,
            opening_thread=opening.ts,
            # The front door asked the scaler for the first step's worker as the command came.
            worker_asked=isinstance(job, CommandJob),
        )
    except Exception:
        opening.take_back()
        raise
    workflow = started.workflow
    if not started.created:
        opening.take_back()
        _respond(
            job, f"Already started: {views.fallback_text(workflow)}", views.status_card(workflow)
        )
        return
    root_ts = opening.ts()
    if root_ts and channel:
        threads.remember(channel, root_ts, workflow.id, user)
        with best_effort("thread_conversation", logger, workflow_id=workflow.id):
            # The thread is the workflow's conversation: its start is the first note.
            conversation = platform.thread_conversation(
                user,
                channel,
                root_ts,
                team_id=job.team_id,
                workflow_id=workflow.id,
                template=template,
            )
            platform.record_start(conversation.id, workflow, user, workflow_input)
        if not platform.has_live_status(workflow.id):
            # Normally the workflow's progress has made the root its live status message
            # (one message, edited as it runs); without it, the root shows the status card.
            client.chat_update(
                channel=channel,
                ts=root_ts,
                text=views.fallback_text(workflow),
                blocks=views.as_dicts(views.status_card(workflow, cancel=False)),
            )
        console = f" (<{workflow.console_url}|execution>)" if workflow.console_url else ""
        _respond(
            job,
            f"Started `{workflow.execution_name}` (id `{workflow.id}`){console};"
            " follow it in the thread.",
        )
    else:
        _respond(
            job,
            views.fallback_text(workflow),
            views.status_card(workflow, cancel=False),
            in_channel=True,
        )


class _RootMessage:
    """A workflow's thread being opened: its first message, posted in the background from
    the moment this is made (nothing is posted without a channel)."""

    def __init__(self, client: Any, channel: str, text: str) -> None:
        self._client, self._channel = client, channel
        self._posting: Future[str | None] | None = None
        if channel:
            self._posting = started("slack-thread", self._post, text)

    def _post(self, text: str) -> str | None:
        from slack_sdk.errors import SlackApiError

        try:
            root = self._client.chat_postMessage(channel=self._channel, text=text)
        except SlackApiError as error:
            # Not in the channel (a DM, a private channel): run without a thread.
            logger.info("could not open a thread", extra={"error": error.response.get("error")})
            return None
        return str(root["ts"])

    def ts(self) -> str | None:
        """The thread's ts once its message is posted; None when there is none. Raises what
        posting raised otherwise (Slack unreachable): the start stops there."""
        return self._posting.result() if self._posting is not None else None

    def take_back(self) -> None:
        """Delete the message, once posted (a start that failed or was made already)."""
        try:
            ts = self.ts()
        except Exception:
            # Never posted: nothing to take back (the start raises its own error).
            best_effort_failed("slack_thread_root", logger, channel=self._channel)
            return
        if ts:
            self._client.chat_delete(channel=self._channel, ts=ts)


def _memory(job: CommandJob) -> None:
    from autodev.slack import memory_views, platform

    user = job.user_id
    if job.action is Action.MEMORIES:
        _respond(job, *memory_views.listing(platform.memories(user, job.team_id)))
    elif job.action is Action.FORGET:
        _respond(job, *memory_views.forgotten(platform.forget(user, str(job.text))))
    else:
        if job.team and not job.team_id:
            raise InvalidInput("`--team` needs a Slack team; this request came without one")
        team = job.team_id if job.team else None
        _respond(job, *memory_views.remembered(platform.remember(user, str(job.text), team)))


# --- button clicks ---


def _interaction(job: InteractionJob) -> None:
    from autodev import audit
    from autodev.slack import platform, views

    action, value, user = job.action_id, job.value, job.user_id
    audit.record(user, f"slack.click.{action}", value, {"channel": job.channel_id})
    if action in (views.APPROVE, views.REJECT):
        approved = action == views.APPROVE
        try:
            decision = platform.decide(value, user, approved, None)
        except AutodevError as error:
            # Not an approver, or already decided: tell only the person who clicked.
            _respond(job, f":no_entry: {error}")
            return
        # The decision queued the card's closed form; replacing the clicked message with it
        # shows it at once (the queued edit then changes nothing).
        closed = platform.approval_view(platform.approval(decision.approval_id))
        _respond(
            job, views.approval_text(closed), views.approval_card(closed), replace_original=True
        )
    elif action == views.VIEW_DETAILS:
        workflow = platform.status(value)
        _respond(job, views.fallback_text(workflow), views.status_card(workflow))
    elif action == views.CANCEL:
        workflow = platform.cancel(value, user)
        _respond(
            job, views.fallback_text(workflow), views.status_card(workflow), replace_original=True
        )
    elif action == views.RETRY:
        template, workflow_input = platform.template_and_input(value)
        _start(job, template, workflow_input, "retry")
    else:
        # Link buttons (e.g. "View diff") also send a click; there is nothing to do for them.
        logger.info("click needs no action", extra={"action_id": action})


# --- mentions: each Slack thread is a conversation (autodev.slack.mention_replies) ---


def _mention(job: MentionJob) -> None:
    from autodev.slack import mention_replies

    mention_replies.handle(job)
