"""Requests as Slack sends them: built, signed with the signing secret, and delivered.

``autodev slack`` and the tests use this to drive the real handlers: to the loopback gateway
of a running local stack when one is announced (or a URL is given), else straight into the
handler in this process through the same API Gateway proxy event.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from autodev.slack.verify import sign


@dataclass(frozen=True)
class SlackAnswer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def text(self) -> str:
        """What Slack would show of the immediate answer."""
        try:
            payload = self.json()
        except ValueError:
            return self.body
        if isinstance(payload, dict):
            return str(payload.get("text") or payload.get("challenge") or "")
        return self.body


@dataclass
class SlackSender:
    """Signs and sends Slack requests as a given user in a given channel."""

    secret: str
    gateway_url: str | None = None  # None: call the handlers in this process
    user_id: str = "ULOCALDEV"
    user_name: str = "local-developer"
    channel_id: str = "CLOCALDEV"
    team_id: str = "TLOCAL"
    response_url_base: str | None = None  # the sink's URL, for response_url

    def _response_url(self, key: str, **origin: str | None) -> str:
        """The request's response_url; its query says where the request came from, so the
        local sink can place the answer as Slack would (see ``autodev.local.slack.sink``)."""
        if self.response_url_base is None:
            from autodev.local.slack import sink

            url = sink.current().response_url(key)
        else:
            url = f"{self.response_url_base.rstrip('/')}/response/{key}"
        query = urllib.parse.urlencode({k: v for k, v in origin.items() if v})
        return f"{url}?{query}" if query else url

    def send(
        self,
        path: str,
        body: str,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        timestamp: int | None = None,
        secret: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> SlackAnswer:
        headers = sign(secret or self.secret, body, timestamp)
        headers["Content-Type"] = content_type
        headers["User-Agent"] = "Slackbot 1.0 (+https://api.slack.com/robots)"
        headers.update(extra_headers or {})
        if self.gateway_url is None:
            from autodev.local.slack.gateway import call_handler

            answer = call_handler(path, body.encode(), headers)
            return SlackAnswer(
                int(answer.get("statusCode", 200)),
                str(answer.get("body") or ""),
                {str(k): str(v) for k, v in (answer.get("headers") or {}).items()},
            )
        request = urllib.request.Request(  # noqa: S310 - the loopback gateway
            self.gateway_url.rstrip("/") + path, data=body.encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return SlackAnswer(
                    response.status, response.read().decode(), dict(response.headers.items())
                )
        except urllib.error.HTTPError as error:
            return SlackAnswer(error.code, error.read().decode(), dict(error.headers.items()))

    def command_body(self, command_line: str) -> tuple[str, str]:
        """The form body of a slash command, and the response_url key it carries."""
        command, _, text = command_line.strip().partition(" ")
        trigger = f"{int(time.time())}.{uuid.uuid4().int % 10**12}"
        key = f"cmd-{uuid.uuid4().hex[:12]}"
        form = {
            "token": "unused-verification-token",
            "team_id": self.team_id,
            "team_domain": "local",
            "channel_id": self.channel_id,
            "channel_name": "local",
            "user_id": self.user_id,
            "user_name": self.user_name,
            "command": command if command.startswith("/") else "/" + command,
            "text": text.strip(),
            "api_app_id": "ALOCAL",
            "response_url": self._response_url(key, channel=self.channel_id, user=self.user_id),
            "trigger_id": trigger,
        }
        return urllib.parse.urlencode(form), key

    def command(self, command_line: str, **options: Any) -> tuple[SlackAnswer, str]:
        body, key = self.command_body(command_line)
        return self.send("/slack/commands", body, **options), key

    def click(
        self,
        action_id: str,
        value: str,
        *,
        message_ts: str | None = None,
        thread_ts: str | None = None,
        user_id: str | None = None,
    ) -> tuple[SlackAnswer, str]:
        """A block_actions interaction: the user clicked the button ``action_id``."""
        key = f"click-{uuid.uuid4().hex[:12]}"
        user = user_id or self.user_id
        payload = {
            "type": "block_actions",
            "team": {"id": self.team_id, "domain": "local"},
            "user": {"id": user, "username": user.lower()},
            "api_app_id": "ALOCAL",
            "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}",
            "container": {"type": "message", "channel_id": self.channel_id},
            "channel": {"id": self.channel_id, "name": "local"},
            "message": {"ts": message_ts, "thread_ts": thread_ts} if message_ts else {},
            "response_url": self._response_url(
                key, channel=self.channel_id, user=user, ts=message_ts, thread_ts=thread_ts
            ),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "value": value,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        return self.send("/slack/interactions", body), key

    def mention(
        self, text: str, *, thread_ts: str | None, user_id: str | None = None
    ) -> SlackAnswer:
        """An app_mention event in the channel (in ``thread_ts``'s thread when given)."""
        event: dict[str, Any] = {
            "type": "app_mention",
            "user": user_id or self.user_id,
            "text": f"<@UAUTODEVBOT> {text}",
            "ts": f"{time.time():.6f}",
            "channel": self.channel_id,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        envelope = {
            "type": "event_callback",
            "team_id": self.team_id,
            "api_app_id": "ALOCAL",
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "event": event,
        }
        return self.send("/slack/events", json.dumps(envelope), content_type="application/json")
