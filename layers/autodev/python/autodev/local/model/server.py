"""The scripted model server: the Anthropic Messages API on loopback, replaying scripts.

Claude Code (the real CLI) is pointed at it with ``ANTHROPIC_BASE_URL`` (the worker reads
``AUTODEV_SCRIPTED_MODEL_URL``). The local stack runs one for every worker. Sessions are found
two ways:

- By task: the worker sends ``X-Autodev-Task-Id`` and ``X-Autodev-Workspace`` with every
  request (``ANTHROPIC_CUSTOM_HEADERS``). On the first turn of a session the server asks its
  ``resolve(task_id, workspace)`` for the script (``tasks.script_for_task`` reads the task's
  step, prompt, tools and context from the database and looks at the workspace, which Claude
  Code has not touched yet) and keeps it for the session's later turns. Without the workspace
  header it takes the working directory Claude Code states in its system prompt.
- By key, for tests of the server itself: ``register(script)`` returns a base URL
  ``http://127.0.0.1:PORT/s/<key>``.

Per-task statistics (``task_stats``; ``GET /_scripted/tasks/<id>`` for other processes) count
the Claude Code runs (sessions) of each task, its requests and the turns served.

Requests that name no task and offer no tools are autodev's own (the conversation manager's
summaries, memory extraction and answers, through the ``anthropic`` SDK): ``conversation``
answers them from the request, deterministically. ``conversation_stats`` (``GET
/_scripted/conversations``) counts them by kind, and ``hold(kind)`` keeps requests of a kind
waiting until ``release(kind)``, so that tests can hold a summary in flight.

It answers ``POST /v1/messages`` both streaming (server-sent events: ``message_start``,
``content_block_start``/``_delta``/``_stop`` for text and ``tool_use`` with
``input_json_delta``, ``message_delta`` with usage and stop reason, ``message_stop``) and not
streaming, ``POST /v1/messages/count_tokens``, and anything else the CLI probes at start with
a harmless empty answer. Usage is estimated from the request (about four characters a token)
the way prompt caching would split it, so the CLI reports realistic token counts and cost.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from autodev.conversations.prompts import (
    KNOWLEDGE_HEADING,
    MEMORIES_HEADING,
    SUMMARY_HEADING,
    TRANSCRIPT_HEADING,
)
from autodev.errors import AutodevError, InvalidInput, NotFound
from autodev.local.model import conversation
from autodev.local.model.script import SCRIPTED_NOTICE, Script, Turn, estimate_tokens
from autodev.models.providers import TASK_ID_HEADER, WORKSPACE_HEADER
from autodev.observability import child_logger

log = child_logger(__name__)

# Text deltas are sent in pieces this long, as a real stream would.
_TEXT_CHUNK = 48
_JSON_CHUNK = 64


# Sessions kept by task (oldest dropped first): far more than the workers of one machine run.
MAX_TASK_SESSIONS = 512
# "Working directory: /path" in Claude Code's system prompt (used when no header says).
_WORKING_DIRECTORY = re.compile(r"Working directory: (/\S+)")

# A held request waits at most this long, so a test that forgets to release cannot hang.
HOLD_TIMEOUT_SECONDS = 60.0

# task id, workspace -> the script of that task's session in that workspace.
Resolver = Callable[[str, Path], Script]


@dataclass
class SessionStats:
    """What one session (or, for ``task_stats``, every session of a task) has served."""

    requests: int = 0
    side_requests: int = 0
    turns_served: list[int] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    # When the first turn was asked for (time.time()): what a benchmark times a step to.
    first_request_at: float | None = None


@dataclass
class TaskStats(SessionStats):
    """A task's figures: ``runs`` is how many Claude Code sessions asked for it;
    ``appended_context`` what autodev appended to the system prompt of its latest turn from
    the first of its context headings on (repository knowledge, memories, the conversation),
    at most ``CONTEXT_CHARS`` characters: how tests see what an agent step was told."""

    runs: int = 0
    appended_context: str = ""


CONTEXT_CHARS = 50_000
_CONTEXT_HEADINGS = (KNOWLEDGE_HEADING, MEMORIES_HEADING, SUMMARY_HEADING, TRANSCRIPT_HEADING)


def appended_context(request: dict[str, Any]) -> str:
    """The part of a request's system prompt that autodev's context headings begin."""
    system = request.get("system") or ""
    if isinstance(system, list):
        system = "\n".join(
            str(block.get("text", "")) for block in system if isinstance(block, dict)
        )
    found = [index for index in (str(system).find(h) for h in _CONTEXT_HEADINGS) if index >= 0]
    return str(system)[min(found) :][:CONTEXT_CHARS] if found else ""


@dataclass
class _Session:
    script: Script
    stats: SessionStats = field(default_factory=SessionStats)
    task_id: str | None = None


class _RequestRefused(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def _workspace_from(headers: Any, request: dict[str, Any]) -> Path | None:
    given = headers.get(WORKSPACE_HEADER)
    if given:
        return Path(given)
    system = request.get("system") or ""
    text = system if isinstance(system, str) else json.dumps(system)
    found = _WORKING_DIRECTORY.search(text)
    return Path(found.group(1)) if found else None


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


def _is_autodev_request(headers: Any, request: dict[str, Any]) -> bool:
    """autodev's own calls (summaries, memories, answers): no task named, no tools offered.
    Claude Code names its task in every request, side requests included."""
    return not (headers.get(TASK_ID_HEADER) or "").strip() and _is_side_request(request)


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


def _count_side_request(stats: SessionStats) -> None:
    stats.side_requests += 1


def _count_turn(stats: SessionStats, index: int, usage: dict[str, int], context: str) -> None:
    if stats.first_request_at is None:
        stats.first_request_at = time.time()
    if isinstance(stats, TaskStats):
        stats.appended_context = context
    stats.requests += 1
    stats.turns_served.append(index)
    stats.input_tokens += (
        usage["input_tokens"]
        + usage["cache_creation_input_tokens"]
        + usage["cache_read_input_tokens"]
    )
    stats.output_tokens += usage["output_tokens"]


class ScriptedModelServer:
    """A threaded HTTP server on 127.0.0.1 that plays tasks' sessions and registered scripts."""

    def __init__(
        self, resolve: Resolver | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._resolve = resolve
        self._sessions: dict[str, _Session] = {}
        self._task_sessions: OrderedDict[tuple[str, str], _Session] = OrderedDict()
        self._task_stats: dict[str, TaskStats] = {}
        self._conversation_stats: dict[str, int] = {}
        self._holds: dict[str, threading.Event] = {}
        self._held: dict[str, int] = {}  # requests of each kind waiting on a hold now
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

    def task_stats(self, task_id: str) -> TaskStats | None:
        """Every session of the task together; None when no request named it."""
        with self._lock:
            found = self._task_stats.get(task_id)
            return None if found is None else TaskStats(**asdict(found))

    def _task_session(self, headers: Any, request: dict[str, Any]) -> _Session:
        """The session of the task the request names, its script built on first use."""
        task_id = (headers.get(TASK_ID_HEADER) or "").strip()
        if not task_id:
            raise _RequestRefused(
                400, "invalid_request_error", f"no {TASK_ID_HEADER} header: which task is this?"
            )
        workspace = _workspace_from(headers, request)
        if workspace is None:
            raise _RequestRefused(
                400,
                "invalid_request_error",
                f"no {WORKSPACE_HEADER} header and no working directory in the system prompt",
            )
        key = (task_id, str(workspace))
        with self._lock:
            session = self._task_sessions.get(key)
            if session is not None:
                self._task_sessions.move_to_end(key)
                return session
        if self._resolve is None:
            raise _RequestRefused(404, "not_found_error", "this server plays registered scripts")
        try:
            script = self._resolve(task_id, workspace)
        except NotFound as error:
            raise _RequestRefused(404, "not_found_error", str(error)) from None
        except (InvalidInput, AutodevError) as error:
            raise _RequestRefused(400, "invalid_request_error", str(error)) from None
        with self._lock:
            session = self._task_sessions.setdefault(key, _Session(script, task_id=task_id))
            if session.script is script:  # this request opened it: one more run of the task
                self._task_stats.setdefault(task_id, TaskStats()).runs += 1
            while len(self._task_sessions) > MAX_TASK_SESSIONS:
                self._task_sessions.popitem(last=False)
        return session

    # --- autodev's own requests ---
    def conversation_stats(self) -> dict[str, int]:
        """autodev's own requests served, by kind (summary, memories, answer, count_tokens)."""
        with self._lock:
            return dict(self._conversation_stats)

    def _count_conversation(self, kind: str) -> None:
        with self._lock:
            self._conversation_stats[kind] = self._conversation_stats.get(kind, 0) + 1

    def hold(self, kind: str) -> None:
        """Keep requests of ``kind`` (e.g. ``summary``) waiting until ``release(kind)``."""
        with self._lock:
            self._holds[kind] = threading.Event()

    def release(self, kind: str) -> None:
        with self._lock:
            held = self._holds.pop(kind, None)
        if held is not None:
            held.set()

    def held(self, kind: str) -> int:
        """How many requests of ``kind`` are waiting on a hold now."""
        with self._lock:
            return self._held.get(kind, 0)

    def _wait_if_held(self, kind: str) -> None:
        with self._lock:
            held = self._holds.get(kind)
            if held is None:
                return
            self._held[kind] = self._held.get(kind, 0) + 1
        try:
            held.wait(HOLD_TIMEOUT_SECONDS)
        finally:
            with self._lock:
                self._held[kind] -= 1

    def _count(self, session: _Session, update: Callable[[SessionStats], None]) -> None:
        with self._lock:
            update(session.stats)
            if session.task_id is not None:
                update(self._task_stats.setdefault(session.task_id, TaskStats()))

    # --- HTTP ---
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "autodev-scripted-model/1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in separate writes; without this, Nagle's algorithm
                # and the client's delayed ACK hold each answer back by ~40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("scripted model: " + format, *args)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/_scripted/conversations":
                    self._json(200, server.conversation_stats())
                    return
                if path.startswith("/_scripted/tasks/"):
                    found = server.task_stats(unquote(path.rsplit("/", 1)[-1]))
                    if found is None:
                        self._error(404, "not_found_error", "no request named this task")
                    else:
                        self._json(200, asdict(found))
                    return
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
                    if _is_autodev_request(self.headers, request):
                        server._count_conversation("count_tokens")
                    self._json(200, {"input_tokens": conversation.count_request(request)})
                elif endpoint == "/v1/messages":
                    if not path.startswith("/s/") and _is_autodev_request(self.headers, request):
                        self._conversation(request)
                        return
                    if path.startswith("/s/"):
                        if session is None:
                            self._error(404, "not_found_error", "no scripted session at this URL")
                            return
                    elif _is_side_request(request):
                        session = None  # titles and checks need no script
                    else:
                        try:
                            session = server._task_session(self.headers, request)
                        except _RequestRefused as refused:
                            log.warning("scripted model refused a request: %s", refused.message)
                            self._error(refused.status, refused.kind, refused.message)
                            return
                    self._messages(session, request)
                else:
                    self._json(200, {})

            def _conversation(self, request: dict[str, Any]) -> None:
                kind, text = conversation.answer_for(request)
                server._count_conversation(kind)  # on arrival: a held request is seen
                server._wait_if_held(kind)
                self._reply(request, Turn(text=text), conversation.usage_of(request, text))

            def _messages(self, session: _Session | None, request: dict[str, Any]) -> None:
                side = _is_side_request(request) or session is None
                if side:
                    turn = Turn(text=f"{SCRIPTED_NOTICE} ok")
                    index = 0
                    if session is not None:
                        server._count(session, _count_side_request)
                else:
                    assert session is not None
                    index = _assistant_turns(request)
                    turn = session.script.turn_at(index)
                usage = usage_for(request, turn, index)
                if not side:
                    assert session is not None
                    context = appended_context(request)
                    server._count(session, lambda stats: _count_turn(stats, index, usage, context))
                self._reply(request, turn, usage)

            def _reply(self, request: dict[str, Any], turn: Turn, usage: dict[str, int]) -> None:
                model = str(request.get("model") or "scripted")
                message_id = "msg_" + secrets.token_hex(12)
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
