"""The request path of the three Slack endpoints: verify, parse, answer within 3 seconds.

Order matters: the signature is checked before the body is even parsed, and a refused
request leaves nothing behind but one log line (no database row, no execution, no Slack
message): 401 (413 when oversized) for a request that is not shown to come from Slack, 400
for a signed one whose body does not fit (``autodev.slack.payloads``). Accepted work that
may take longer than Slack's 3 seconds is handed to the Slack worker as a typed job
(``autodev.slack.job_models``, through ``autodev.slack.jobs.dispatch``) and the answer goes
back at once. Imports are kept light here: this module is what a cold start of the command
handler pays for.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from autodev.observability import Metric, child_logger, count
from autodev.slack import commands
from autodev.slack.job_models import CommandJob, InteractionJob, MentionJob, SlackJob
from autodev.slack.payloads import (
    AppMention,
    BlockActions,
    CommandForm,
    EventEnvelope,
    InteractionKind,
)
from autodev.slack.signing import signing_secret
from autodev.slack.verify import Refusal, RequestRefused, SlackRequest, verify
from autodev.validation import without_unstorable

logger = child_logger(__name__)

Response = dict[str, Any]


def http(status: int, payload: Any = None, *, text: str | None = None) -> Response:
    """An API Gateway proxy response: JSON for a payload, plain text otherwise."""
    if payload is not None:
        return {
            "statusCode": status,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(payload),
        }
    return {
        "statusCode": status,
        "headers": {"Content-Type": "text/plain; charset=utf-8"},
        "body": text or "",
    }


def ephemeral(text: str) -> Response:
    return http(200, {"response_type": "ephemeral", "text": text})


def _verified(event: Mapping[str, Any], endpoint: str) -> SlackRequest | Response:
    try:
        return verify(event, signing_secret())
    except RequestRefused as refused:
        context = event.get("requestContext") or {}
        logger.warning(
            "slack request refused",
            extra={
                "endpoint": endpoint,
                "reason": refused.reason.value,
                "status": refused.status,
                "body_length": len(str(event.get("body") or "")),
                "source_ip": (context.get("identity") or {}).get("sourceIp"),
            },
        )
        count(Metric.SLACK_REQUESTS_REFUSED, reason=refused.reason.name.lower())
        return http(refused.status, text=refused.public_message)


MALFORMED = 400  # signed by Slack, but not a request autodev can read

_Model = TypeVar("_Model", bound=BaseModel)


class _Malformed(Exception):
    """The verified body does not fit; ``detail`` says where (never what was sent)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _malformed(endpoint: str, what: str) -> Response:
    """A genuine (signed) request whose body does not fit: 400, one log line, nothing done."""
    logger.warning(
        "slack request malformed",
        extra={"endpoint": endpoint, "reason": Refusal.GARBLED.value, "detail": what},
    )
    count(Metric.SLACK_REQUESTS_REFUSED, reason=Refusal.GARBLED.name.lower())
    return http(MALFORMED, text=Refusal.GARBLED.value)


def _read(model: type[_Model], data: Any, where: str = "") -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        path = ".".join(str(part) for part in (where, *first["loc"]) if part != "") or "body"
        raise _Malformed(f"{path}: {first['type']}") from None


def _form(request: SlackRequest) -> dict[str, str]:
    try:
        pairs = urllib.parse.parse_qsl(
            request.body, keep_blank_values=True, strict_parsing=bool(request.body)
        )
    except ValueError:
        raise _Malformed("body is not a form") from None
    return dict(pairs)


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except ValueError:
        raise _Malformed(f"{what} is not JSON") from None
    if not isinstance(parsed, dict):
        raise _Malformed(f"{what} is not an object")
    return parsed


def _handle(
    event: Mapping[str, Any], endpoint: str, answer: Callable[[SlackRequest], Response]
) -> Response:
    """Verify, then answer; a verified body that does not fit is a 400."""
    verified = _verified(event, endpoint)
    if not isinstance(verified, SlackRequest):
        return verified
    try:
        return answer(verified)
    except _Malformed as malformed:
        return _malformed(endpoint, malformed.detail)


def _dispatch(job: SlackJob) -> bool:
    from autodev.slack.jobs import dispatch

    try:
        dispatch(job)
    except Exception:
        logger.exception("could not hand the Slack request to the worker", extra={"kind": job.kind})
        count(Metric.SLACK_REQUESTS_FAILED, kind=job.kind)
        return False
    return True


# --- /workflow, /monitor, /orchestrator ---


def handle_command(event: Mapping[str, Any]) -> Response:
    return _handle(event, "commands", _command)


def _command(verified: SlackRequest) -> Response:
    form = _read(CommandForm, _form(verified))
    if verified.retry_num:
        # Slack redelivers when it thinks we were slow; the first delivery is being handled.
        logger.info("slack retry acknowledged", extra={"retry": verified.retry_num})
        return http(200, text="")
    try:
        command = commands.parse(form.command, form.text)
    except commands.UsageError as usage:
        return ephemeral(str(usage))
    if command.action is commands.Action.HELP:
        return ephemeral(commands.usage_for(form.command))
    job = CommandJob(
        action=command.action,
        template=command.template,
        target_id=command.target_id,
        input=command.input,
        comment=command.comment,
        budget_usd=command.budget_usd,
        schedule=command.schedule,
        timezone=command.timezone,
        text=command.text,
        team=command.team,
        user_id=form.user_id,
        channel_id=form.channel_id,
        team_id=form.team_id,
        trigger_id=form.trigger_id,
        response_url=form.response_url,
    )
    asking = None
    if command.action is commands.Action.START and command.template:
        # The worker of the workflow's first step starts now, while the Slack worker checks
        # the request and the execution reaches the step (best effort: queuing the step pokes
        # the scaler in any case; the start does not ask again, see StartRequest.worker_asked).
        # Asked at the same time as the Slack worker, not before it: two independent
        # invocations, neither waits for the other's round trip (about 4 ms each here). A
        # request the hand-off then fails leaves that worker idle until its timeout, like one
        # refused by the checks.
        from autodev.background import started
        from autodev.workflows.steps import scale_ahead_of_request

        asking = started("scale-ahead", scale_ahead_of_request, command.template)
    try:
        dispatched = _dispatch(job)
    finally:
        if asking is not None:
            asking.result()
    if not dispatched:
        return ephemeral(":warning: autodev could not take the request just now; please try again.")
    # Nothing is said yet, not even for a start: the worker checks the template and its input
    # first, then posts "Starting ..." (the workflow's thread), or tells only the requester
    # what is wrong.
    return http(200, text="")


# --- button clicks ---


def handle_interaction(event: Mapping[str, Any]) -> Response:
    return _handle(event, "interactions", _interaction)


def _interaction(verified: SlackRequest) -> Response:
    payload = _json_object(_form(verified).get("payload", ""), "payload")
    kind = _read(InteractionKind, payload, "payload").type
    if verified.retry_num:
        return http(200, text="")
    if kind != "block_actions":
        return http(200, text="")  # shortcuts and views are not used; acknowledge quietly
    click = _read(BlockActions, payload, "payload")
    action, message = click.actions[0], click.message
    job = InteractionJob(
        action_id=action.action_id,
        value=action.value,
        user_id=click.user.id,
        channel_id=click.channel_id,
        message_ts=message.ts if message else None,
        thread_ts=(message.thread_ts or message.ts) if message else None,
        team_id=click.team.id if click.team else None,
        trigger_id=click.trigger_id,
        action_ts=action.action_ts,
        response_url=click.response_url,
    )
    if not _dispatch(job):
        return ephemeral(":warning: autodev could not take the click just now; please try again.")
    return http(200, text="")


# --- Events API ---


def handle_event(event: Mapping[str, Any]) -> Response:
    return _handle(event, "events", _event)


def _event(verified: SlackRequest) -> Response:
    envelope = _read(EventEnvelope, _json_object(verified.body, "body"))
    if envelope.type == "url_verification":
        return http(200, {"challenge": envelope.challenge})
    if verified.retry_num:
        logger.info("slack event retry acknowledged", extra={"retry": verified.retry_num})
        return http(200, text="")
    inner = envelope.event or {}
    if envelope.type != "event_callback" or inner.get("type") != "app_mention":
        return http(200, text="")  # other events need nothing
    mention = _read(AppMention, inner, "event")
    if mention.bot_id:
        return http(200, text="")  # our own messages
    job = MentionJob(
        event_id=envelope.event_id,
        user_id=mention.user,
        channel_id=mention.channel,
        ts=mention.ts,
        thread_ts=mention.thread_ts,
        team_id=envelope.team_id,
        # A mention cannot be refused in words before it is read; what Postgres could not
        # store (a NUL, an unpaired surrogate) is dropped instead.
        text=without_unstorable(mention.text)[:3000],
    )
    _dispatch(job)
    return http(200, text="")
