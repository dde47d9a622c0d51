"""The request path of the three Slack endpoints: verify, parse, answer within 3 seconds.

Order matters: the signature is checked before the body is even parsed, and a refused
request leaves nothing behind but one log line (no database row, no execution, no Slack
message). Accepted work that may take longer than Slack's 3 seconds is handed to the Slack
worker (``autodev.slack.jobs.dispatch``) and the answer goes back at once. Imports are kept
light here: this module is what a cold start of the command handler pays for.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from autodev.observability import Metric, child_logger, count
from autodev.slack import commands
from autodev.slack.signing import signing_secret
from autodev.slack.verify import Refusal, RequestRefused, SlackRequest, verify

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


def _form(request: SlackRequest, endpoint: str) -> dict[str, str] | Response:
    try:
        pairs = urllib.parse.parse_qsl(
            request.body, keep_blank_values=True, strict_parsing=bool(request.body)
        )
    except ValueError:
        logger.warning(
            "slack request refused", extra={"endpoint": endpoint, "reason": Refusal.GARBLED.value}
        )
        count(Metric.SLACK_REQUESTS_REFUSED, reason=Refusal.GARBLED.name.lower())
        return http(401, text=RequestRefused(Refusal.GARBLED).public_message)
    return dict(pairs)


def _garbled(endpoint: str, what: str) -> Response:
    logger.warning(
        "slack request refused",
        extra={"endpoint": endpoint, "reason": Refusal.GARBLED.value, "detail": what},
    )
    count(Metric.SLACK_REQUESTS_REFUSED, reason=Refusal.GARBLED.name.lower())
    return http(401, text=RequestRefused(Refusal.GARBLED).public_message)


def _dispatch(job: dict[str, Any]) -> bool:
    from autodev.slack.jobs import dispatch

    try:
        dispatch(job)
    except Exception:
        logger.exception(
            "could not hand the Slack request to the worker", extra={"kind": job["kind"]}
        )
        count(Metric.SLACK_REQUESTS_FAILED, kind=str(job["kind"]))
        return False
    return True


# --- /workflow, /monitor, /orchestrator ---


def handle_command(event: Mapping[str, Any]) -> Response:
    verified = _verified(event, "commands")
    if not isinstance(verified, SlackRequest):
        return verified
    form = _form(verified, "commands")
    if not isinstance(form, dict):
        return form
    name, user = form.get("command", ""), form.get("user_id", "")
    if not name or not user:
        return _garbled("commands", "no command or user")
    if verified.retry_num:
        # Slack redelivers when it thinks we were slow; the first delivery is being handled.
        logger.info("slack retry acknowledged", extra={"retry": verified.retry_num})
        return http(200, text="")
    try:
        command = commands.parse(name, form.get("text", ""))
    except commands.UsageError as usage:
        return ephemeral(str(usage))
    if command.action is commands.Action.HELP:
        return ephemeral(commands.usage_for(name))
    job = {
        "kind": "command",
        "action": command.action.value,
        "template": command.template,
        "target_id": command.target_id,
        "input": command.input,
        "comment": command.comment,
        "user_id": user,
        "channel_id": form.get("channel_id"),
        "team_id": form.get("team_id"),
        "trigger_id": form.get("trigger_id"),
        "response_url": form.get("response_url"),
    }
    if not _dispatch(job):
        return ephemeral(":warning: autodev could not take the request just now; please try again.")
    if command.action is commands.Action.START:
        return http(
            200,
            {
                "response_type": "in_channel",
                "text": f":rocket: Starting *{command.template}* for <@{user}>…",
            },
        )
    return http(200, text="")


# --- button clicks ---


def handle_interaction(event: Mapping[str, Any]) -> Response:
    verified = _verified(event, "interactions")
    if not isinstance(verified, SlackRequest):
        return verified
    form = _form(verified, "interactions")
    if not isinstance(form, dict):
        return form
    try:
        payload = json.loads(form.get("payload", ""))
    except ValueError:
        return _garbled("interactions", "payload is not JSON")
    if not isinstance(payload, dict):
        return _garbled("interactions", "payload is not an object")
    if verified.retry_num:
        return http(200, text="")
    if payload.get("type") != "block_actions":
        return http(200, text="")  # shortcuts and views are not used; acknowledge quietly
    actions = payload.get("actions") or []
    user = (payload.get("user") or {}).get("id")
    if not actions or not isinstance(actions[0], dict) or not user:
        return _garbled("interactions", "no action or user")
    action = actions[0]
    channel = (payload.get("channel") or {}).get("id") or (payload.get("container") or {}).get(
        "channel_id"
    )
    message = payload.get("message") or {}
    job = {
        "kind": "interaction",
        "action_id": str(action.get("action_id", "")),
        "value": str(action.get("value", "")),
        "user_id": str(user),
        "channel_id": channel,
        "message_ts": message.get("ts"),
        "thread_ts": message.get("thread_ts") or message.get("ts"),
        "team_id": (payload.get("team") or {}).get("id"),
        "trigger_id": payload.get("trigger_id"),
        "action_ts": action.get("action_ts"),
        "response_url": payload.get("response_url"),
    }
    if not _dispatch(job):
        return ephemeral(":warning: autodev could not take the click just now; please try again.")
    return http(200, text="")


# --- Events API ---


def handle_event(event: Mapping[str, Any]) -> Response:
    verified = _verified(event, "events")
    if not isinstance(verified, SlackRequest):
        return verified
    try:
        envelope = json.loads(verified.body)
    except ValueError:
        return _garbled("events", "body is not JSON")
    if not isinstance(envelope, dict):
        return _garbled("events", "body is not an object")
    kind = envelope.get("type")
    if kind == "url_verification":
        return http(200, {"challenge": str(envelope.get("challenge", ""))})
    if verified.retry_num:
        logger.info("slack event retry acknowledged", extra={"retry": verified.retry_num})
        return http(200, text="")
    inner = envelope.get("event") or {}
    if kind != "event_callback" or not isinstance(inner, dict):
        return http(200, text="")
    if inner.get("type") != "app_mention" or inner.get("bot_id"):
        return http(200, text="")  # our own messages and other events need nothing
    job = {
        "kind": "mention",
        "event_id": envelope.get("event_id"),
        "user_id": inner.get("user"),
        "channel_id": inner.get("channel"),
        "ts": inner.get("ts"),
        "thread_ts": inner.get("thread_ts"),
        "text": str(inner.get("text") or "")[:3000],
    }
    _dispatch(job)
    return http(200, text="")
