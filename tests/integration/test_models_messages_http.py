"""The Messages API calls made without the anthropic SDK: token counting (the SDK's count, its
headers and retries, clear errors that quote no key, no SDK import in the process that
counts) and the health check's probe (what each answer means)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic
import pytest

from autodev.config import load_settings
from autodev.conversations.models import TokenSource
from autodev.conversations.tokens import TokenCounter, estimate_tokens
from autodev.local.model.server import ScriptedModelServer
from autodev.models.token_counting import RETRIES, CountingFailed, MessagesApiCounting

KEY = "sk-ant-test-key-never-shown-0123"
# The same retries, without the pauses between them.
AT_ONCE = RETRIES.new(backoff_factor=0)
TEXTS = ("Why does AccountTrigger fail?", "x", "Use the trigger handler. " * 40, "naïve — ✓")


def test_a_count_is_the_sdks_count_for_the_same_text(scripted_model: ScriptedModelServer) -> None:
    settings = load_settings(
        autodev_model_provider="scripted", autodev_scripted_model_url=scripted_model.url
    )
    ours = MessagesApiCounting(settings)
    with anthropic.Anthropic(api_key="x", base_url=scripted_model.url, max_retries=0) as sdk:
        for text in TEXTS:
            theirs = sdk.messages.count_tokens(
                model=settings.autodev_model, messages=[{"role": "user", "content": text}]
            ).input_tokens
            assert ours.count(settings.autodev_model, text) == theirs


def test_counting_in_a_new_process_does_not_import_the_sdk(
    scripted_model: ScriptedModelServer,
) -> None:
    code = (
        "import json, sys\n"
        "from autodev.config import load_settings\n"
        "from autodev.conversations.tokens import TokenCounter\n"
        "settings = load_settings(autodev_model_provider='scripted',"
        f" autodev_scripted_model_url={scripted_model.url!r})\n"
        "tokens, source = TokenCounter(settings).count('Why does AccountTrigger fail?')\n"
        "print(json.dumps([tokens, source.value, 'anthropic' in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    tokens, source, imported = json.loads(out.strip().splitlines()[-1])
    assert (source, imported) == (TokenSource.COUNTED.value, False)
    assert tokens > 0


class _Endpoint(ThreadingHTTPServer):
    """A counting endpoint that gives the answers it is told, in turn, and keeps what it got."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: list[tuple[int, dict[str, str], bytes]] = []
        self.requests: list[tuple[str, dict[str, str], Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Endpoint

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.requests.append((self.path, headers, body))
        status, headers, answer = self.server.answers.pop(0)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture
def endpoint() -> Iterator[_Endpoint]:
    server = _Endpoint()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _error(kind: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


def test_the_api_gets_the_sdks_headers_at_the_configured_base_url(
    endpoint: _Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", endpoint.url + "/gateway/")
    settings = load_settings(autodev_model_provider="anthropic", anthropic_api_key=KEY)
    endpoint.answers.append((200, {}, b'{"input_tokens": 12}'))
    assert MessagesApiCounting(settings).count("claude-sonnet-4-6", "hello") == 12
    path, headers, body = endpoint.requests[0]
    assert path == "/gateway/v1/messages/count_tokens"
    assert (headers["x-api-key"], headers["anthropic-version"]) == (KEY, "2023-06-01")
    assert body == {
        "model": "claude-sonnet-4-6",
        "messages": [{"role": "user", "content": "hello"}],
    }


def test_a_busy_endpoint_is_retried_and_a_failing_one_is_a_clear_error_without_the_key(
    endpoint: _Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", endpoint.url)
    settings = load_settings(autodev_model_provider="anthropic", anthropic_api_key=KEY)
    counting = MessagesApiCounting(settings, AT_ONCE)
    now = {"retry-after": "0"}
    endpoint.answers += [
        (429, now, _error("rate_limit_error", "slow down")),
        (200, {}, b'{"input_tokens": 5}'),
    ]
    assert counting.count("m", "hi") == 5
    assert len(endpoint.requests) == 2

    endpoint.answers += [(503, now, _error("overloaded_error", "Overloaded"))] * 3
    with pytest.raises(CountingFailed) as failed:
        counting.count("m", "hi")
    assert str(failed.value) == "token counting answered 503: Overloaded"
    assert len(endpoint.requests) == 5  # the first attempt and two retries

    endpoint.answers += [(400, {}, _error("invalid_request_error", f"bad key {KEY[:6]}"))]
    with pytest.raises(CountingFailed, match="answered 400"):
        counting.count("m", "hi")
    for answer in (b"not json", b'{"input_tokens": "many"}', b"[]"):
        endpoint.answers.append((200, {}, answer))
        with pytest.raises(CountingFailed):
            counting.count("m", "hi")

    # The counter falls back to the documented estimate, and the key is nowhere in what it says.
    endpoint.answers += [(503, now, _error("overloaded_error", "Overloaded"))] * 3
    counter = TokenCounter(settings, endpoint=counting)
    assert counter.count("hello") == (estimate_tokens("hello"), TokenSource.ESTIMATE)
    endpoint.server_close()
    with pytest.raises(CountingFailed, match="unreachable") as unreachable:
        counting.count("m", "hi")
    assert KEY not in str(unreachable.value)


def test_the_health_probe_says_what_the_model_api_answered(
    endpoint: _Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autodev.monitoring.checks import _messages_api

    where = endpoint.url
    endpoint.answers += [
        (200, {}, b'{"data": []}'),
        (401, {}, _error("authentication_error", "invalid x-api-key")),
        (429, {}, _error("rate_limit_error", "slow down")),
        (529, {}, _error("overloaded_error", "Overloaded")),
    ]
    seen = [_messages_api(endpoint.url, KEY, "anthropic") for _ in range(4)]
    assert [(h.healthy, h.detail) for h in seen] == [
        (True, f"anthropic: {where} answered 200"),
        (False, f"anthropic: {where} refused the API key (401)"),
        (True, f"anthropic: {where} answered 429"),  # it answered, and took the key
        (False, f"anthropic: {where} answered 529"),
    ]
    path, headers, _ = endpoint.requests[0]
    assert (path, headers["x-api-key"]) == ("/v1/models?limit=1", KEY)
    endpoint.server_close()
    down = _messages_api(endpoint.url, KEY, "anthropic")
    assert not down.healthy
    assert down.detail.startswith(f"anthropic: {where} is unreachable (")
    assert KEY not in down.detail
