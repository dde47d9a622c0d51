"""The local Slack page: the sink's messages as a person sees them, and a way to answer.

Served by the sink (``autodev.local.slack.sink``) on its own address:

- ``GET /``: the page (``page/index.html``, ``page.js``, ``page.css`` beside this module). It
  renders the channels and threads with their Block Kit messages and follows
  ``GET /_sink/stream`` (server-sent events) to re-read ``GET /_sink/view`` whenever a message
  is posted, edited or deleted.
- ``POST /_page/send`` ``{user, channel, text, thread_ts?}``: a slash command (text starting
  with ``/``) or a mention, sent as that local user; ``POST /_page/click``
  ``{user, channel, ts, action_id, value}``: a button click. Both are built and signed here
  with the local stack's signing secret and sent to the local gateway exactly as Slack sends
  them (``SlackSender``); the browser never sees the secret.
- ``GET /executions/<name>``: one workflow's execution (its steps, approvals, results), what
  the links in the messages lead to on the local stack (``AUTODEV_EXECUTION_PAGE_URL``).
"""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autodev.local.slack.sender import SlackSender

if TYPE_CHECKING:
    from autodev.local.slack.sink import SlackSink

ASSETS = Path(__file__).with_name("page")
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
DEFAULT_CHANNEL = "CLOCALDEV"
DEFAULT_USER = ("ULOCALDEV", "local-developer")
_ID = re.compile(r"^[A-Za-z0-9#_.:-]{1,80}$")
EXECUTIONS_PATH = "/executions/"

Found = tuple[int, str, bytes]


def get(sink: SlackSink, path: str) -> Found | None:
    """The answer to a GET of the page, its assets, its view or an execution; None: 404."""
    if path in ("/", "/index.html"):
        return _asset("index.html")
    if path in ("/page.js", "/page.css"):
        return _asset(path.lstrip("/"))
    if path == "/_sink/view":
        return 200, "application/json; charset=utf-8", json.dumps(view(sink)).encode()
    if path.startswith(EXECUTIONS_PATH):
        name = urllib.parse.unquote(path[len(EXECUTIONS_PATH) :])
        return 200, _CONTENT_TYPES[".html"], execution_page(name).encode()
    return None


def _asset(name: str) -> Found:
    path = ASSETS / name
    return 200, _CONTENT_TYPES[path.suffix], path.read_bytes()


def users() -> list[dict[str, str]]:
    """Who one can be on the page: the local developer and the configured approvers."""
    from autodev.config import get_settings

    found = [{"id": DEFAULT_USER[0], "name": DEFAULT_USER[1]}]
    for user in get_settings().approvers:
        if user not in {u["id"] for u in found}:
            found.append({"id": user, "name": f"{user} (approver)"})
    return found


def view(sink: SlackSink) -> dict[str, Any]:
    """Everything the page shows: channels with their messages, and the ephemeral ones."""
    from autodev.config import get_settings

    messages = sink.messages()
    ephemeral = sink.ephemeral()
    channels = {DEFAULT_CHANNEL, get_settings().alert_channel}
    channels.update(str(m["channel"]) for m in [*messages, *ephemeral])
    return {
        "seq": sink.last_seq(),
        "connected": sink.gateway is not None,
        "default_channel": DEFAULT_CHANNEL,
        "channels": sorted(channels),
        "users": users(),
        "messages": messages,
        "ephemeral": ephemeral,
    }


def _text(args: dict[str, Any], name: str, limit: int = 4000) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValueError(f"{name} is missing or too long")
    return value.strip()


def _optional(args: dict[str, Any], name: str) -> str | None:
    value = args.get(name)
    return str(value) if isinstance(value, str) and value else None


def post(sink: SlackSink, path: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """``/_page/send`` and ``/_page/click``: signed requests to the gateway, as Slack sends."""
    if sink.gateway is None:
        return 503, {"ok": False, "error": "no local gateway is connected to this sink"}
    try:
        user, channel = _text(args, "user", 80), _text(args, "channel", 80)
        if not (_ID.match(user) and _ID.match(channel)):
            raise ValueError("user and channel are Slack ids")
        sender = SlackSender(
            sink.gateway.signing_secret,
            sink.gateway.url,
            user_id=user,
            user_name=user.lower(),
            channel_id=channel,
            response_url_base=sink.url,
        )
        if path == "/_page/send":
            return 200, _send(sink, sender, _text(args, "text"), _optional(args, "thread_ts"))
        if path == "/_page/click":
            return 200, _click(sink, sender, args)
    except ValueError as error:
        return 400, {"ok": False, "error": str(error)}
    return 404, {"ok": False, "error": "not_found"}


def _send(sink: SlackSink, sender: SlackSender, text: str, thread_ts: str | None) -> dict[str, Any]:
    if text.startswith("/"):
        answer, _ = sender.command(text)
    else:
        # A mention: shown as the person's own message, then sent as Slack's app_mention.
        sink.post_as_user(sender.channel_id, sender.user_id, f"<@UAUTODEVBOT> {text}", thread_ts)
        answer = sender.mention(text, thread_ts=thread_ts)
    _show_immediate_answer(sink, sender, answer.body, thread_ts)
    return {"ok": answer.status == 200, "status": answer.status, "text": answer.text}


def _click(sink: SlackSink, sender: SlackSender, args: dict[str, Any]) -> dict[str, Any]:
    ts = _text(args, "ts", 40)
    message = sink.message(sender.channel_id, ts)
    if message is None:
        raise ValueError("that message is gone")
    answer, _ = sender.click(
        _text(args, "action_id", 255),
        str(args.get("value") or ""),
        message_ts=ts,
        thread_ts=message.get("thread_ts") or None,
    )
    _show_immediate_answer(sink, sender, answer.body, message.get("thread_ts"))
    return {"ok": answer.status == 200, "status": answer.status, "text": answer.text}


def _show_immediate_answer(
    sink: SlackSink, sender: SlackSender, body: str, thread_ts: str | None
) -> None:
    """What Slack shows of a request's immediate HTTP answer (a usage text, say)."""
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        payload = {"text": body}
    if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
        return
    if payload.get("response_type") == "in_channel":
        sink.post_as_user(sender.channel_id, "UAUTODEVBOT", str(payload.get("text") or ""))
        return
    sink.show_ephemeral(
        sender.channel_id,
        sender.user_id,
        str(payload.get("text") or ""),
        payload.get("blocks"),
        thread_ts,
    )


# --- the execution page ---


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def execution_page(name: str) -> str:
    """One workflow's execution, read from the local stack (its row, steps, approvals)."""
    from autodev.errors import AutodevError

    try:
        body = _execution_body(name)
    except AutodevError as error:  # no such workflow, or the stack cannot read it
        body = f"<p class='error'>Cannot show {_e(name)}: {_e(error)}</p>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{_e(name)} · autodev</title><link rel='stylesheet' href='/page.css'>"
        f"</head><body class='execution'><p><a href='/'>← local Slack</a></p>{body}</body></html>"
    )


def _execution_body(name: str) -> str:
    from autodev.orchestrator.queue import workflow_tasks
    from autodev.workflows import get_workflow_status

    status = get_workflow_status(name)
    rows = "".join(
        f"<tr><td>{_e(s.name)}</td><td>{_e(s.status)}</td>"
        f"<td>{_e(s.started_at and s.started_at.strftime('%H:%M:%S'))}</td>"
        f"<td>{_e(': '.join(filter(None, (s.error, s.cause))))}</td></tr>"
        for s in status.steps
    )
    approvals = "".join(
        f"<li><b>{_e(a.status)}</b> {_e(a.message)}"
        + (f" — by {_e(a.decided_by)}" if a.decided_by else "")
        + (f" at {_e(a.decided_at.strftime('%Y-%m-%d %H:%M:%S'))}" if a.decided_at else "")
        + "</li>"
        for a in status.approvals
    )
    tasks = "".join(
        f"<details><summary>{_e(t.step_name)} — {_e(t.status)}</summary>"
        f"<pre>{_e(str((t.result or {}).get('summary') or t.last_error or ''))}</pre></details>"
        for t in workflow_tasks(status.id)
    )
    problem = f"<p class='error'>{_e(status.error)}: {_e(status.cause)}</p>" if status.error else ""
    return (
        f"<h1>{_e(status.template)} <code>{_e(status.execution_name)}</code></h1>"
        f"<p>status <b>{_e(status.status)}</b> · requested by {_e(status.requested_by)}"
        f" · id <code>{_e(status.id)}</code> · cost ${status.cost_usd:.4f}</p>{problem}"
        "<h2>Steps</h2><table><tr><th>step</th><th>status</th><th>started</th>"
        f"<th>error</th></tr>{rows}</table>"
        + (f"<h2>Approvals</h2><ul>{approvals}</ul>" if approvals else "")
        + (f"<h2>Agent steps</h2>{tasks}" if tasks else "")
    )
