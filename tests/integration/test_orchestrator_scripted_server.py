"""The scripted model server over real HTTP on loopback: the Messages API shapes it answers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from autodev.local.model.script import script_from_json
from autodev.local.model.server import ScriptedModelServer

SCRIPT = script_from_json(
    [
        {"text": "Reading.", "tool_calls": [{"name": "Read", "input": {"file_path": "/w/a.txt"}}]},
        {"text": "[scripted model] Done."},
    ]
)
FIRST_MESSAGE: dict[str, Any] = {"role": "user", "content": "go"}
REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 100,
    "system": "You are Claude Code.",
    "tools": [{"name": "Read", "input_schema": {"type": "object"}}],
    "messages": [FIRST_MESSAGE],
}


def _post(url: str, body: dict[str, Any]) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - loopback test server
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def server() -> Any:
    with ScriptedModelServer() as running:
        yield running


def test_streams_text_and_tool_use_then_ends_the_turn(server: ScriptedModelServer) -> None:
    base = server.register(SCRIPT)
    status, body = _post(base + "/v1/messages?beta=true", {**REQUEST, "stream": True})
    assert status == 200
    events = [
        json.loads(line[len("data: ") :])
        for line in body.decode().splitlines()
        if line.startswith("data: ")
    ]
    kinds = [event["type"] for event in events]
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    tool_start = next(
        e
        for e in events
        if e["type"] == "content_block_start" and e["content_block"]["type"] == "tool_use"
    )
    assert tool_start["content_block"]["name"] == "Read"
    partial = "".join(
        e["delta"]["partial_json"]
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(partial) == {"file_path": "/w/a.txt"}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    assert events[-2]["usage"]["output_tokens"] > 0

    # The answer to the tool result is the next turn; not streamed when not asked to.
    follow_up = {
        **REQUEST,
        "messages": [
            FIRST_MESSAGE,
            {"role": "assistant", "content": [{"type": "text", "text": "Reading."}]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}],
            },
        ],
    }
    status, body = _post(base + "/v1/messages", follow_up)
    message = json.loads(body)
    assert (status, message["stop_reason"]) == (200, "end_turn")
    assert message["content"] == [{"type": "text", "text": "[scripted model] Done."}]
    assert message["usage"]["cache_read_input_tokens"] > 0
    stats = server.stats(base)
    assert stats is not None
    assert stats.turns_served == [0, 1]


def test_side_endpoints_answer_and_unknown_sessions_are_refused(
    server: ScriptedModelServer,
) -> None:
    base = server.register(SCRIPT)
    status, body = _post(base + "/v1/messages/count_tokens", REQUEST)
    assert status == 200
    assert json.loads(body)["input_tokens"] > 0
    status, body = _post(server.url + "/s/not-a-session/v1/messages", REQUEST)
    assert status == 404
    assert json.loads(body)["error"]["type"] == "not_found_error"
    server.unregister(base)
    assert _post(base + "/v1/messages", REQUEST)[0] == 404
