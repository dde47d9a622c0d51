"""The scripted model server: the Anthropic Messages API on loopback, replaying scripts.

Claude Code (the real CLI) is pointed at it with ``ANTHROPIC_BASE_URL``. Each session is
registered under a random key and reached at ``http://127.0.0.1:PORT/s/<key>``, so one server
in a worker serves any number of sessions, and a session cannot be reached without its key.

It answers ``POST /v1/messages`` both streaming (server-sent events: ``message_start``,
``content_block_start``/``_delta``/``_stop`` for text and ``tool_use`` with
``input_json_delta``, ``message_delta`` with usage and stop reason, ``message_stop``) and not
streaming, ``POST /v1/messages/count_tokens``, and anything else the CLI probes at start with
a harmless empty answer. Usage is estimated from the request (about four characters a token)
the way prompt caching would split it, so the CLI reports realistic token counts and cost.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from autodev.models.script import SCRIPTED_NOTICE, Script, Turn, estimate_tokens

log = logging.getLogger(__name__)

# Text deltas are sent in pieces this long, as a real stream would.
_TEXT_CHUNK = 48
_JSON_CHUNK = 64


@dataclass
class SessionStats:
    """What one session has served, for tests and for the worker's own checks."""

    requests: int = 0
    side_requests: int = 0
    turns_served: list[int] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class _Session:
    script: Script
    stats: SessionStats = field(default_factory=SessionStats)


def usage_for(request: dict[str, Any], turn: Turn, index: int) -> dict[str, int]:
    """Token usage as the API would report it with Claude Code's prompt caching.

    The system prompt and tools are written to the cache on the first turn; on later turns
    everything before the newest exchange is read from the cache and the newest exchange is
    written to it, leaving a few uncached tokens.
    """
    messages = request.get("messages") or []
    fixed = estimate_tokens(request.get("system") or "") + estimate_tokens(
        request.get("tools") or []
    )
    output = estimate_tokens(turn.text or " ") + sum(
        estimate_tokens(call.input) + 12 for call in turn.tool_calls
    )
    if index == 0:
        return {
            "input_tokens": estimate_tokens(messages),
            "cache_creation_input_tokens": fixed,
            "cache_read_input_tokens": 0,
            "output_tokens": output,
        }
    earlier = messages[:-2] if len(messages) > 2 else []
    newest = messages[-2:] if len(messages) > 2 else messages
    return {
        "input_tokens": 3,
        "cache_creation_input_tokens": estimate_tokens(newest),
        "cache_read_input_tokens": fixed + (estimate_tokens(earlier) if earlier else 0),
        "output_tokens": output,
    }


def _assistant_turns(request: dict[str, Any]) -> int:
    return sum(1 for message in request.get("messages") or [] if message.get("role") == "assistant")


def _is_side_request(request: dict[str, Any]) -> bool:
    """Requests the CLI makes besides the conversation (titles, checks): no tools offered."""
    return not request.get("tools")


def _content_blocks(turn: Turn, message_id: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if turn.text:
        blocks.append({"type": "text", "text": turn.text})
    for position, call in enumerate(turn.tool_calls):
        blocks.append(
            {
                "type": "tool_use",
                "id": f"toolu_{message_id[4:20]}{position:02d}",
                "name": call.name,
                "input": call.input,
            }
        )
    return blocks


def _sse_events(
    turn: Turn, model: str, usage: dict[str, int], message_id: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    start_usage = {key: value for key, value in usage.items() if key != "output_tokens"}
    start_usage["output_tokens"] = 1
    yield (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": start_usage,
            },
        },
    )
    for index, block in enumerate(_content_blocks(turn, message_id)):
        # Each block opens empty, then its text (or its input as JSON) arrives in chunks.
        if block["type"] == "text":
            opened: dict[str, Any] = {"type": "text", "text": ""}
            payload, chunk, delta_type, delta_key = block["text"], _TEXT_CHUNK, "text_delta", "text"
        else:
            opened = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            payload, chunk = json.dumps(block["input"]), _JSON_CHUNK
            delta_type, delta_key = "input_json_delta", "partial_json"
        yield (
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": opened},
        )
        for offset in range(0, len(payload), chunk):
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": delta_type, delta_key: payload[offset : offset + chunk]},
                },
            )
        yield ("content_block_stop", {"type": "content_block_stop", "index": index})
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": turn.stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": usage["output_tokens"]},
        },
    )
    yield ("message_stop", {"type": "message_stop"})


class ScriptedModelServer:
    """A threaded HTTP server on 127.0.0.1 that replays registered scripts."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- lifecycle ---
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ScriptedModelServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, name="scripted-model", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- sessions ---
    def register(self, script: Script) -> str:
        """Serve ``script`` and return the base URL Claude Code should use for it."""
        key = secrets.token_urlsafe(12)
        with self._lock:
            self._sessions[key] = _Session(script)
        return f"{self.url}/s/{key}"

    def unregister(self, base_url: str) -> SessionStats | None:
        key = base_url.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            session = self._sessions.pop(key, None)
        return session.stats if session else None

    def stats(self, base_url: str) -> SessionStats | None:
        key = base_url.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            session = self._sessions.get(key)
        return session.stats if session else None

    def _session(self, key: str) -> _Session | None:
        with self._lock:
            return self._sessions.get(key)

    # --- HTTP ---
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "autodev-scripted-model/1"

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("scripted model: " + format, *args)

            def do_GET(self) -> None:
                # Start-up probes (settings, account, feature flags): answer harmlessly.
                self._json(200, {})

            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                key, _, rest = path.removeprefix("/s/").partition("/")
                session = server._session(key) if path.startswith("/s/") else None
                endpoint = "/" + rest if path.startswith("/s/") else path
                try:
                    request = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    self._error(400, "invalid_request_error", "the body is not JSON")
                    return
                if endpoint == "/v1/messages/count_tokens":
                    self._json(200, {"input_tokens": estimate_tokens(request)})
                elif endpoint == "/v1/messages":
                    if session is None:
                        self._error(404, "not_found_error", "no scripted session at this URL")
                        return
                    self._messages(session, request)
                else:
                    self._json(200, {})

            def _messages(self, session: _Session, request: dict[str, Any]) -> None:
                model = str(request.get("model") or "scripted")
                message_id = "msg_" + secrets.token_hex(12)
                if _is_side_request(request):
                    turn = Turn(text=f"{SCRIPTED_NOTICE} ok")
                    index = 0
                    with server._lock:
                        session.stats.side_requests += 1
                else:
                    index = _assistant_turns(request)
                    turn = session.script.turn_at(index)
                usage = usage_for(request, turn, index)
                if not _is_side_request(request):
                    with server._lock:
                        session.stats.requests += 1
                        session.stats.turns_served.append(index)
                        session.stats.input_tokens += (
                            usage["input_tokens"]
                            + usage["cache_creation_input_tokens"]
                            + usage["cache_read_input_tokens"]
                        )
                        session.stats.output_tokens += usage["output_tokens"]
                if request.get("stream"):
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("cache-control", "no-cache")
                    self.send_header("connection", "close")
                    self.send_header("request-id", "req_" + message_id[4:])
                    self.end_headers()
                    for event, data in _sse_events(turn, model, usage, message_id):
                        self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                        self.wfile.flush()
                    self.close_connection = True
                    return
                self._json(
                    200,
                    {
                        "id": message_id,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": _content_blocks(turn, message_id),
                        "stop_reason": turn.stop_reason,
                        "stop_sequence": None,
                        "usage": usage,
                    },
                )

            def _error(self, status: int, kind: str, message: str) -> None:
                self._json(status, {"type": "error", "error": {"type": kind, "message": message}})

            def _json(self, status: int, body: dict[str, Any]) -> None:
                encoded = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

        return Handler
