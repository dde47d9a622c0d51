"""Sending one delivery over its channel: Slack, a signed webhook, or EventBridge."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError

from autodev import events
from autodev.callbacks.outbox import Outcome
from autodev.callbacks.slack_message import result_blocks
from autodev.observability import child_logger

logger = child_logger(__name__)

# Slack errors no retry will heal.
_PERMANENT_SLACK_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "no_permission",
        "missing_scope",
        "invalid_blocks",
        "msg_too_long",
    }
)


def send(row: dict[str, Any]) -> Outcome:
    channel = row["channel"]
    if channel == "slack":
        return send_slack(row)
    if channel == "webhook":
        return send_webhook(row)
    if channel == "event":
        return send_event(row)
    return Outcome(False, f"unknown channel {channel!r}", permanent=True)


def send_slack(row: dict[str, Any]) -> Outcome:
    from autodev.slack.client import web_client

    config = row["config"]
    text, blocks = result_blocks(row["payload"])
    try:
        web_client().chat_postMessage(
            channel=config["channel"],
            thread_ts=config.get("thread_ts"),
            text=text,
            blocks=blocks,
            # The delivery id rides along, so a duplicate after a lost answer can be spotted.
            metadata={
                "event_type": "autodev_result",
                "event_payload": {"delivery_id": row["id"], "result_id": str(row["result_id"])},
            },
        )
    except SlackApiError as error:
        code = str(error.response.get("error") or "error") if error.response else str(error)
        status = getattr(error.response, "status_code", None)
        retry_after = None
        if status == 429:
            headers = getattr(error.response, "headers", {}) or {}
            value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
            if isinstance(value, list | tuple):
                value = value[0] if value else None
            retry_after = float(value) if value is not None else None
        return Outcome(
            False,
            f"Slack answered {code}",
            status=status,
            permanent=code in _PERMANENT_SLACK_ERRORS,
            retry_after=retry_after,
        )
    except Exception as error:
        return Outcome(False, f"Slack unreachable: {error}")
    return Outcome(True, status=200)


def send_webhook(row: dict[str, Any]) -> Outcome:
    from autodev.webhooks import WebhookFailed, WebhookRefused, send

    if not row.get("secret"):
        return Outcome(False, "the webhook has no signing secret", permanent=True)
    try:
        answer = send(
            str(row["config"]["url"]), row["payload"], secret=row["secret"], msg_id=row["id"]
        )
    except WebhookRefused as error:
        # A policy decision, not a glitch: retrying would be refused the same way.
        return Outcome(False, str(error), permanent=True)
    except WebhookFailed as error:
        return Outcome(False, f"receiver unreachable: {error}")
    if answer.ok:
        return Outcome(True, status=answer.status)
    snippet = " ".join(answer.body.split())[:200]
    message = f"receiver answered {answer.status}" + (f": {snippet}" if snippet else "")
    # 410 Gone is the Standard Webhooks way for a receiver to say "stop sending".
    return Outcome(False, message, status=answer.status, permanent=answer.status == 410)


def event_for(row: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The spec event (detail type, detail) a delivery envelope stands for."""
    data = row["payload"]["data"]
    result: dict[str, Any] = data.get("result") or {}
    common = {"event_id": row["id"], "result_id": data["result_id"], "result": result}
    if data["target_kind"] == "workflow":
        return "workflow:completed", {
            **common,
            "workflow_id": data["target_id"],
            "template": result.get("template"),
            "status": data["status"],
            "error": str(result["error"]) if result.get("error") else None,
        }
    task = {
        "event_id": row["id"],
        "result_id": data["result_id"],
        "task_id": data["target_id"],
        "workflow_id": result.get("workflow_id"),
        "step_name": result.get("step_name"),
        "task_type": result.get("task_type"),
    }
    if data["status"] == "succeeded":
        # A task's cached document holds its own result as "output" (orchestrator.task_results).
        output = result.get("output")
        return "task:completed", {**task, "result": output if isinstance(output, dict) else result}
    return "task:failed", {
        **task,
        "error": str(result.get("error") or data["status"]),
        "attempts": result.get("attempts"),
    }


def send_event(row: dict[str, Any]) -> Outcome:
    detail_type, detail = event_for(row)
    try:
        events.publish(detail_type, detail, bus=row["config"].get("bus"))
    except events.PublishFailed as error:
        return Outcome(False, str(error))
    except Exception as error:
        from autodev.errors import InvalidInput

        if isinstance(error, InvalidInput):
            return Outcome(False, str(error), permanent=True)
        return Outcome(False, f"EventBridge unreachable: {error}")
    return Outcome(True)
