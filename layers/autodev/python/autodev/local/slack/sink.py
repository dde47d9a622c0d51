"""The local Slack sink: a real HTTP server on loopback that answers like Slack's Web API.

The local stack points ``SLACK_API_URL`` here (with a placeholder token), so every Slack call
autodev makes lands here instead of a workspace:
``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``, ``conversations.*`` and the
posts to a command's or button's ``response_url``. Each call is recorded (method, arguments,
the ``ts`` the sink assigned) so the demo, ``autodev slack`` and the tests can read back what
would have been posted. ``fail_next`` makes the next calls answer 429 with ``Retry-After`` (or
another status), to exercise the clients' retry handlers.

Endpoints (all on the sink's base URL):

- ``POST /api/<method>``: the Web API (JSON or form bodies, ``Authorization: Bearer``).
- ``POST /response/<key>``: a ``response_url``; ``response_url(key)`` builds one.
- ``GET /_sink/calls`` (``?since=SEQ``), ``DELETE /_sink/calls``, ``POST /_sink/fail``:
  read back, clear and fault injection for other processes (``RemoteSink`` wraps them).
- ``GET /``: the local Slack page (``autodev.local.slack.page``): channels and threads with the
  Block Kit messages rendered, updated live; its buttons and its message box send signed
  requests to the local gateway, as Slack would. ``GET /executions/<name>`` shows one
  workflow's execution (the local stack's ``AUTODEV_EXECUTION_PAGE_URL``).

A ``response_url`` the local senders build carries where the request came from in its query
(``channel``, ``user``, ``ts`` of the clicked message, ``thread_ts``), so the sink applies an
answer as Slack would: ``replace_original`` edits the clicked message, ``delete_original``
deletes it, ``in_channel`` posts in the channel, anything else is shown to that user only.

A sink run by the local stack announces its URL in ``AUTODEV_STATE_DIR/slack-sink.json`` and
``AUTODEV_SLACK_SINK_URL``; ``current()`` finds it (for reading back), else starts one in
this process.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from autodev.local.loopback import LoopbackServer

ANNOUNCE_FILE = "slack-sink.json"
SINK_URL_ENV = "AUTODEV_SLACK_SINK_URL"
# Arguments Slack takes as JSON text inside a form body; decoded so tests see structures.
_JSON_FORM_FIELDS = ("blocks", "attachments", "metadata")


@dataclass(frozen=True)
class RecordedCall:
    """One Slack call as the sink saw it."""

    seq: int
    method: str  # e.g. "chat.postMessage", or "response_url" for a response_url post
    args: dict[str, Any]
    status: int  # the HTTP status the sink answered with
    ts: str | None = None  # the message ts the sink assigned (postMessage) or updated
    channel: str | None = None
    key: str | None = None  # the response_url key, for response_url posts
    at: float = field(default_factory=time.time)

    @property
    def text(self) -> str:
        return str(self.args.get("text") or "")

    @property
    def thread_ts(self) -> str | None:
        value = self.args.get("thread_ts")
        return str(value) if value else None

    def block_text(self) -> str:
        """Every text inside the call's blocks, joined: what a person would read."""
        return _collect_text(self.args.get("blocks"))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Failure:
    times: int
    status: int
    retry_after: int
    method: str | None


def _collect_text(node: Any) -> str:
    parts: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(node)
    return "\n".join(parts)


@dataclass(frozen=True)
class GatewayLink:
    """Where the page's buttons and message box send their signed requests."""

    url: str
    signing_secret: str  # stays in the sink's process: the browser never sees it


class SlackSink(LoopbackServer):
    """The sink server. ``start()`` binds a free loopback port unless one is given."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__("slack-sink", host, port)
        self._lock = threading.Condition()
        self._calls: list[RecordedCall] = []
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        # Messages shown to one user only (chat.postEphemeral, ephemeral response_url posts).
        self._ephemeral: list[dict[str, Any]] = []
        self._failures: list[_Failure] = []
        self._seq = 0
        self._ts_counter = 0
        self._epoch = int(time.time())
        self._stopping = threading.Event()
        self.gateway: GatewayLink | None = None

    def connect_gateway(self, url: str, signing_secret: str) -> None:
        """Let the page send signed Slack requests to the local gateway at ``url``."""
        self.gateway = GatewayLink(url.rstrip("/"), signing_secret)

    def start(self) -> SlackSink:
        self._stopping.clear()
        super().start()
        return self

    def stop(self) -> None:
        # Live page streams end at their next wake-up, so the server's threads can go.
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        super().stop()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """The newest sequence number, once it is past ``seen`` (or ``timeout`` passed)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._seq <= seen and not self._stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._lock.wait(remaining)
            return self._seq

    def ephemeral(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(message) for message in self._ephemeral]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._messages.get((channel, ts))
            return dict(found) if found is not None else None

    def post_as_user(
        self, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """A message a person wrote (a mention typed on the page), as Slack shows it."""
        ts = self._next_ts()
        message: dict[str, Any] = {
            "ts": ts,
            "channel": channel,
            "text": text,
            "blocks": [],
            "thread_ts": thread_ts,
            "user": user,
        }
        with self._lock:
            self._messages[(channel, ts)] = message
            self._touch()
        return message

    def show_ephemeral(
        self,
        channel: str,
        user: str | None,
        text: str,
        blocks: Any = None,
        thread_ts: str | None = None,
    ) -> None:
        with self._lock:
            self._ephemeral.append(
                {
                    "ts": self._next_ts(),
                    "channel": channel,
                    "text": text,
                    "blocks": blocks or [],
                    "thread_ts": thread_ts,
                    "user": "UAUTODEVBOT",
                    "ephemeral_to": user,
                }
            )
            self._touch()

    def _touch(self) -> None:
        # A change that is no Slack call (the page's own messages) still wakes the streams.
        self._seq += 1
        self._lock.notify_all()

    # --- lifecycle (start, stop, url: LoopbackServer) ---

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(_SinkRequestHandler):
            owner = sink

        return Handler

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, key: str) -> str:
        return f"{self.url}/response/{urllib.parse.quote(key, safe='')}"

    # --- read back and control ---

    def calls(self, method: str | None = None, *, since: int = 0) -> list[RecordedCall]:
        with self._lock:
            return [
                call
                for call in self._calls
                if call.seq > since and (method is None or call.method == method)
            ]

    def last_seq(self) -> int:
        with self._lock:
            return self._seq

    def messages(
        self, channel: str | None = None, thread_ts: str | None = None
    ) -> list[dict[str, Any]]:
        """Messages as they stand now (after chat.update), oldest first."""
        with self._lock:
            found = [
                dict(message)
                for (chan, _), message in self._messages.items()
                if (channel is None or chan == channel)
                and (thread_ts is None or message.get("thread_ts") == thread_ts)
            ]
        return sorted(found, key=lambda message: float(message["ts"]))

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._messages.clear()
            self._ephemeral.clear()
            self._failures.clear()
            self._lock.notify_all()

    def fail_next(
        self, times: int = 1, *, status: int = 429, retry_after: int = 0, method: str | None = None
    ) -> None:
        """The next ``times`` calls (of ``method``, or any) answer ``status`` with Retry-After."""
        with self._lock:
            self._failures.append(_Failure(times, status, retry_after, method))

    def wait_for(
        self, predicate: Callable[[list[RecordedCall]], bool], timeout: float = 10.0
    ) -> list[RecordedCall]:
        """Wait until ``predicate(calls)`` holds; raise TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(list(self._calls)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the Slack sink did not see the expected calls in time")
                self._lock.wait(min(remaining, 0.2))
            return list(self._calls)

    # --- the server side ---

    def _take_failure(self, method: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.method is None or failure.method == method:
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

    def _record(self, method: str, args: dict[str, Any], status: int, **extra: Any) -> RecordedCall:
        with self._lock:
            self._seq += 1
            call = RecordedCall(seq=self._seq, method=method, args=args, status=status, **extra)
            self._calls.append(call)
            self._lock.notify_all()
            return call

    def _next_ts(self) -> str:
        # Slack's form: epoch seconds of the post, then a part that keeps each ts unique and
        # increasing (so sorting by ts is sorting by time, as in Slack).
        with self._lock:
            self._ts_counter += 1
            self._epoch = max(self._epoch, int(time.time()))
            return f"{self._epoch}.{self._ts_counter % 1_000_000:06d}"

    def answer_api(self, method: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Slack's answer to ``method``; records the call. Unknown methods answer ok."""
        failure = self._take_failure(method)
        if failure is not None:
            self._record(method, args, failure.status)
            error = "ratelimited" if failure.status == 429 else "fatal_error"
            answer = {"ok": False, "error": error, "_retry_after": failure.retry_after}
            return failure.status, answer
        channel = str(args.get("channel") or "") or None
        if method == "chat.postMessage":
            if not channel:
                self._record(method, args, 200)
                return 200, {"ok": False, "error": "channel_not_found"}
            ts = self._next_ts()
            message = {
                "ts": ts,
                "channel": channel,
                "text": args.get("text") or "",
                "blocks": args.get("blocks") or [],
                "thread_ts": args.get("thread_ts"),
                "user": "UAUTODEVBOT",
            }
            with self._lock:
                self._messages[(channel, ts)] = message
            self._record(method, args, 200, ts=ts, channel=channel)
            return 200, {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.update":
            ts = str(args.get("ts") or "")
            with self._lock:
                existing = self._messages.get((channel or "", ts))
                if existing is not None:
                    existing["text"] = args.get("text") or existing["text"]
                    if "blocks" in args:
                        existing["blocks"] = args.get("blocks") or []
                    existing["edited"] = True
            self._record(method, args, 200, ts=ts, channel=channel)
            if existing is None:
                return 200, {"ok": False, "error": "message_not_found"}
            return 200, {"ok": True, "channel": channel, "ts": ts, "text": existing["text"]}
        if method == "chat.postEphemeral":
            ts = self._next_ts()
            if channel:
                self.show_ephemeral(
                    channel,
                    str(args.get("user") or "") or None,
                    str(args.get("text") or ""),
                    args.get("blocks"),
                    str(args.get("thread_ts") or "") or None,
                )
            self._record(method, args, 200, ts=ts, channel=channel)
            return 200, {"ok": True, "message_ts": ts}
        if method == "chat.delete":
            with self._lock:
                self._messages.pop((channel or "", str(args.get("ts") or "")), None)
            self._record(method, args, 200, ts=str(args.get("ts") or ""), channel=channel)
            return 200, {"ok": True, "channel": channel, "ts": args.get("ts")}
        if method in ("conversations.replies", "conversations.history"):
            thread = str(args.get("ts") or "") or None
            self._record(method, args, 200, channel=channel)
            found = self.messages(channel, None)
            if thread is not None:
                found = [m for m in found if m["ts"] == thread or m.get("thread_ts") == thread]
            return 200, {"ok": True, "messages": found, "has_more": False}
        self._record(method, args, 200, channel=channel)
        return 200, _generic_answer(method, args)

    def answer_response_url(
        self, key: str, body: dict[str, Any], origin: dict[str, str] | None = None
    ) -> tuple[int, str]:
        """A post to a response_url; ``origin`` (from the URL's query) says where the request
        came from, so the answer lands where Slack would put it."""
        failure = self._take_failure("response_url")
        if failure is not None:
            self._record("response_url", body, failure.status, key=key)
            return failure.status, "rate_limited"
        if origin:
            self._apply_response(body, origin)
        self._record("response_url", body, 200, key=key, channel=key)
        return 200, "ok"

    def _apply_response(self, body: dict[str, Any], origin: dict[str, str]) -> None:
        channel = origin.get("channel")
        if not channel:
            return
        clicked = origin.get("ts")
        if _flag(body.get("delete_original")) and clicked:
            with self._lock:
                self._messages.pop((channel, clicked), None)
            return
        if _flag(body.get("replace_original")) and clicked:
            with self._lock:
                existing = self._messages.get((channel, clicked))
                if existing is not None:
                    existing["text"] = body.get("text") or existing["text"]
                    existing["blocks"] = body.get("blocks") or []
                    existing["edited"] = True
                    return
        text, blocks = str(body.get("text") or ""), body.get("blocks")
        if body.get("response_type") == "in_channel":
            ts = self._next_ts()
            with self._lock:
                self._messages[(channel, ts)] = {
                    "ts": ts,
                    "channel": channel,
                    "text": text,
                    "blocks": blocks or [],
                    "thread_ts": None,
                    "user": "UAUTODEVBOT",
                }
            return
        self.show_ephemeral(channel, origin.get("user"), text, blocks, origin.get("thread_ts"))


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _generic_answer(method: str, args: dict[str, Any]) -> dict[str, Any]:
    if method == "auth.test":
        return {"ok": True, "user_id": "UAUTODEVBOT", "bot_id": "BAUTODEV", "team": "local"}
    if method == "conversations.open":
        users = str(args.get("users") or "U")
        return {"ok": True, "channel": {"id": "D" + users.split(",")[0]}}
    if method == "conversations.info":
        return {"ok": True, "channel": {"id": args.get("channel"), "name": args.get("channel")}}
    if method == "users.info":
        user = args.get("user")
        return {"ok": True, "user": {"id": user, "name": str(user).lower()}}
    if method == "chat.getPermalink":
        channel, ts = args.get("channel"), str(args.get("message_ts") or "")
        return {"ok": True, "permalink": f"https://slack.local/{channel}/p{ts.replace('.', '')}"}
    return {"ok": True}


class _SinkRequestHandler(BaseHTTPRequestHandler):
    owner: SlackSink
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        del format, args  # quiet: the recorded calls are the log

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, default=str).encode()
        self._send(status, body, "application/json; charset=utf-8", headers or {})

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = (self.headers.get("Content-Type") or "").lower()
        if not raw:
            args: dict[str, Any] = {}
        elif "json" in content_type:
            loaded = json.loads(raw)
            args = loaded if isinstance(loaded, dict) else {"payload": loaded}
        else:
            args = dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
        for name in _JSON_FORM_FIELDS:
            value = args.get(name)
            if isinstance(value, str) and value[:1] in "[{":
                with suppress(ValueError):
                    args[name] = json.loads(value)
        return args

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        try:
            args = self._body()
        except ValueError:
            self._send_json(400, {"ok": False, "error": "invalid_json"})
            return
        if path.startswith("/api/"):
            method = path[len("/api/") :]
            if not (self.headers.get("Authorization") or "").startswith("Bearer ") and not args.get(
                "token"
            ):
                self.owner._record(method, args, 200)
                self._send_json(200, {"ok": False, "error": "not_authed"})
                return
            status, answer = self.owner.answer_api(method, args)
            retry_after = answer.pop("_retry_after", None)
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            self._send_json(status, answer, headers)
        elif path.startswith("/response/"):
            key = urllib.parse.unquote(path[len("/response/") :])
            query = urllib.parse.urlsplit(self.path).query
            came_from = dict(urllib.parse.parse_qsl(query))
            status, text = self.owner.answer_response_url(key, args, came_from)
            headers = {"Retry-After": "0"} if status == 429 else {}
            self._send(status, text.encode(), "text/plain", headers)
        elif path.startswith("/_page/"):
            from autodev.local.slack import page

            # Only the page itself may send: a JSON body (another site's form cannot send
            # one without the browser asking first, which this server never allows) and,
            # when the browser names it, this server's own origin.
            content_type = (self.headers.get("Content-Type") or "").lower()
            origin = self.headers.get("Origin")
            if "json" not in content_type:
                self._send_json(415, {"ok": False, "error": "send JSON"})
            elif origin is not None and origin.rstrip("/") != self.owner.url:
                self._send_json(403, {"ok": False, "error": "not from this page"})
            else:
                status, answer = page.post(self.owner, path, args)
                self._send_json(status, answer)
        elif path == "/_sink/fail":
            self.owner.fail_next(
                int(args.get("times", 1)),
                status=int(args.get("status", 429)),
                retry_after=int(args.get("retry_after", 0)),
                method=args.get("method"),
            )
            self._send_json(200, {"ok": True})
        else:
            self._send_json(404, {"ok": False, "error": "unknown_method"})

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        if parts.path == "/_sink/calls":
            query = dict(urllib.parse.parse_qsl(parts.query))
            since = int(query.get("since", 0))
            calls = self.owner.calls(query.get("method"), since=since)
            self._send_json(200, [call.to_json() for call in calls])
        elif parts.path == "/_sink/health":
            self._send_json(200, {"ok": True})
        elif parts.path == "/_sink/stream":
            self._stream()
        else:
            from autodev.local.slack import page

            found = page.get(self.owner, parts.path)
            if found is None:
                self._send_json(404, {"ok": False, "error": "not_found"})
            else:
                status, content_type, body = found
                self._send(status, body, content_type, {"Cache-Control": "no-store"})

    def _stream(self) -> None:
        """Server-sent events: the sequence number each time something changed."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        seen = -1
        try:
            while not self.owner.stopping:
                latest = self.owner.wait_for_change(seen, timeout=10.0)
                if latest != seen:
                    self.wfile.write(f"data: {latest}\n\n".encode())
                    seen = latest
                else:
                    self.wfile.write(b": still here\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return

    def do_DELETE(self) -> None:
        if urllib.parse.urlsplit(self.path).path == "/_sink/calls":
            self.owner.clear()
            self._send_json(200, {"ok": True})
        else:
            self._send_json(404, {"ok": False, "error": "not_found"})


class RemoteSink:
    """The read-back and control API of a sink running in another process."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, key: str) -> str:
        return f"{self.url}/response/{urllib.parse.quote(key, safe='')}"

    def _request(self, method: str, path: str, payload: Any = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(  # noqa: S310 - loopback URL of our own sink
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def calls(self, method: str | None = None, *, since: int = 0) -> list[RecordedCall]:
        query = urllib.parse.urlencode({"since": since, **({"method": method} if method else {})})
        return [RecordedCall(**row) for row in self._request("GET", f"/_sink/calls?{query}")]

    def last_seq(self) -> int:
        calls = self.calls()
        return calls[-1].seq if calls else 0

    def messages(
        self, channel: str | None = None, thread_ts: str | None = None
    ) -> list[dict[str, Any]]:
        """Messages as they stand now (edited, deleted), as the page shows them."""
        found: list[dict[str, Any]] = self._request("GET", "/_sink/view")["messages"]
        return [
            message
            for message in found
            if (channel is None or message["channel"] == channel)
            and (thread_ts is None or message.get("thread_ts") == thread_ts)
        ]

    def clear(self) -> None:
        self._request("DELETE", "/_sink/calls")

    def fail_next(
        self, times: int = 1, *, status: int = 429, retry_after: int = 0, method: str | None = None
    ) -> None:
        self._request(
            "POST",
            "/_sink/fail",
            {"times": times, "status": status, "retry_after": retry_after, "method": method},
        )

    def alive(self) -> bool:
        try:
            return bool(self._request("GET", "/_sink/health").get("ok"))
        except OSError:
            return False


# --- finding the sink from any process ---

_shared: SlackSink | None = None
_shared_lock = threading.Lock()


def _state_dir() -> Path:
    from autodev.config import get_settings

    return Path(get_settings().autodev_state_dir)


def announce(sink: SlackSink, state_dir: Path | None = None) -> Path:
    """Write the sink's URL where other processes of the local stack will find it."""
    directory = state_dir or _state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ANNOUNCE_FILE
    path.write_text(json.dumps({"url": sink.url, "pid": os.getpid()}))
    return path


def withdraw(state_dir: Path | None = None) -> None:
    (state_dir or _state_dir()).joinpath(ANNOUNCE_FILE).unlink(missing_ok=True)


def announced_url(state_dir: Path | None = None) -> str | None:
    """The URL of a running sink: AUTODEV_SLACK_SINK_URL, else a live announced one."""
    configured = os.environ.get(SINK_URL_ENV)
    if configured:
        return configured.rstrip("/")
    path = (state_dir or _state_dir()) / ANNOUNCE_FILE
    try:
        announced = json.loads(path.read_text())
        pid = int(announced["pid"])
        if pid <= 0:
            return None
        os.kill(pid, 0)  # a stale file from a stopped stack is ignored
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(announced["url"]).rstrip("/")


def shared_sink() -> SlackSink:
    """The sink of this process, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SlackSink().start()
        return _shared


def stop_shared_sink() -> None:
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.stop()
        _shared = None


def current() -> SlackSink | RemoteSink:
    """The sink Slack calls from this process go to (announced, else this process's own)."""
    url = announced_url()
    if url is not None:
        if _shared is not None and _shared.url == url:
            return _shared
        return RemoteSink(url)
    return shared_sink()


@contextmanager
def running(state_dir: Path | None = None, port: int = 0) -> Iterator[SlackSink]:
    """A sink announced in ``state_dir`` for the duration (what the local stack runs)."""
    sink = SlackSink(port=port).start()
    announce(sink, state_dir)
    try:
        yield sink
    finally:
        withdraw(state_dir)
        sink.stop()


def main() -> None:
    """``python -m autodev.local.slack.sink [PORT]``: run an announced sink until interrupted."""
    import sys

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    with running(port=port) as sink:
        print(f"Slack sink on {sink.url}", flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
