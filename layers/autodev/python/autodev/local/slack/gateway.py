"""The Slack handlers behind a loopback HTTP endpoint, as API Gateway would put them.

Each request becomes an API Gateway REST (v1) proxy event and goes to the very
``functions/<name>/handler.py`` that runs in AWS; the handler's proxy response becomes the HTTP
response. Routes: ``POST /slack/commands``, ``/slack/interactions``, ``/slack/events``, and
``GET /health`` (functions/health, as API Gateway routes it in AWS). ``call_handler`` does the
same without HTTP (``autodev slack`` when no stack is running).
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from autodev.local.lambdas import load_module
from autodev.local.loopback import LoopbackServer
from autodev.local.stack import FUNCTIONS_DIR

ROUTES = {
    "/slack/commands": "slack_commands",
    "/slack/interactions": "slack_interactions",
    "/slack/events": "slack_events",
}
GET_ROUTES = {"/health": "health"}
ANNOUNCE_FILE = "slack-gateway.json"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True)
class LocalContext:
    """The parts of a Lambda context the handlers read."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 3000


def load_handler(function: str) -> Handler:
    """``functions/<function>/handler.py``'s ``handler``: the same module the local Lambda
    dispatcher runs, loaded once per process."""
    handler: Handler = load_module(FUNCTIONS_DIR / function / "handler.py").handler
    return handler


def proxy_event(
    path: str, body: bytes, headers: Mapping[str, str], method: str = "POST"
) -> dict[str, Any]:
    """An API Gateway REST proxy event as the real gateway builds it."""
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = time.time()
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/local{path}",
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": headers.get("User-Agent", "")},
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def call_handler(
    path: str, body: bytes, headers: Mapping[str, str], method: str = "POST"
) -> dict[str, Any]:
    function = (GET_ROUTES if method == "GET" else ROUTES).get(path)
    if function is None:
        return {"statusCode": 404, "headers": {}, "body": "no such route"}
    context = LocalContext(function_name=function, aws_request_id=str(uuid.uuid4()))
    return load_handler(function)(proxy_event(path, body, headers, method), context)


class _GatewayRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def do_POST(self) -> None:
        self._answer("POST")

    def do_GET(self) -> None:
        self._answer("GET")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        try:
            answer = call_handler(self.path.split("?")[0], body, headers, method)
        except Exception as error:  # an unhandled error is a 502 from API Gateway too
            answer = {"statusCode": 502, "body": f"handler failed: {type(error).__name__}"}
        payload = str(answer.get("body") or "").encode()
        if answer.get("isBase64Encoded"):
            payload = base64.b64decode(payload)
        self.send_response(int(answer.get("statusCode", 200)))
        for name, value in (answer.get("headers") or {}).items():
            self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class LocalGateway(LoopbackServer):
    """The loopback endpoint; ``start()`` binds a free port unless one is given."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__("slack-gateway", host, port)

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _GatewayRequestHandler

    def announce(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / ANNOUNCE_FILE).write_text(json.dumps({"url": self.url, "pid": os.getpid()}))

    @staticmethod
    def withdraw(state_dir: Path) -> None:
        (state_dir / ANNOUNCE_FILE).unlink(missing_ok=True)


def announced_url(state_dir: Path) -> str | None:
    """The URL of a running local gateway, when the local stack announced a live one."""
    try:
        announced = json.loads((state_dir / ANNOUNCE_FILE).read_text())
        pid = int(announced["pid"])
        if pid <= 0:
            return None
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(announced["url"])
