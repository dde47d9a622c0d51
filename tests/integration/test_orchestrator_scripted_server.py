"""The scripted model server over real HTTP on loopback: the Messages API shapes it answers,
and how it finds a task's session from the headers the worker sends."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from autodev.local.model.script import script_from_json
from autodev.local.model.server import ScriptedModelServer
from autodev.orchestrator import queue
from autodev.orchestrator.queue import TaskSpec

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


def _post(
    url: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - loopback test server
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
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


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_task_named_in_the_headers_plays_its_own_session_in_its_workspace(
    database: str, scripted_model: ScriptedModelServer, tmp_path: Path
) -> None:
    session = [
        {
            "text": "Reading.",
            "tool_calls": [{"name": "Read", "input": {"file_path": "{workspace}/a"}}],
        },
        {"text": "[scripted model] Done."},
    ]
    task_id = queue.submit_task(
        TaskSpec(task_type="analysis", prompt="read a", context={"scripted_session": session})
    )
    first, second = tmp_path / "attempt-1", tmp_path / "attempt-2"
    first.mkdir()
    second.mkdir()
    url = scripted_model.url + "/v1/messages"
    answers = []
    for workspace in (first, second):  # two Claude Code runs of the task (two attempts)
        headers = {"X-Autodev-Task-Id": task_id, "X-Autodev-Workspace": str(workspace)}
        status, body = _post(url, REQUEST, headers)
        assert status == 200, body
        answers.append(json.loads(body))
    # The session was built from the task, with its own workspace filled in.
    assert [a["content"][1]["input"]["file_path"] for a in answers] == [
        f"{first}/a",
        f"{second}/a",
    ]
    status, stats = _get(f"{scripted_model.url}/_scripted/tasks/{task_id}")
    assert status == 200
    assert (stats["runs"], stats["requests"], stats["turns_served"]) == (2, 2, [0, 0])
    # The same run asking again (its next turn) is no new run.
    follow_up = {**REQUEST, "messages": [FIRST_MESSAGE, {"role": "assistant", "content": "x"}]}
    _post(url, follow_up, {"X-Autodev-Task-Id": task_id, "X-Autodev-Workspace": str(first)})
    found = scripted_model.task_stats(task_id)
    assert found is not None
    assert (found.runs, found.turns_served) == (2, [0, 0, 1])


def test_the_workspace_comes_from_the_system_prompt_when_no_header_gives_it(
    database: str, scripted_model: ScriptedModelServer, tmp_path: Path
) -> None:
    session = [{"text": "[scripted model] in {workspace}"}]
    task_id = queue.submit_task(
        TaskSpec(task_type="analysis", prompt="where", context={"scripted_session": session})
    )
    request = {**REQUEST, "system": f"You are Claude Code.\nWorking directory: {tmp_path}\n"}
    status, body = _post(
        scripted_model.url + "/v1/messages", request, {"X-Autodev-Task-Id": task_id}
    )
    assert status == 200, body
    assert json.loads(body)["content"][0]["text"] == f"[scripted model] in {tmp_path}"


def test_requests_that_name_no_known_task_are_refused_with_the_reason(
    database: str, scripted_model: ScriptedModelServer, tmp_path: Path
) -> None:
    url = scripted_model.url + "/v1/messages"
    status, body = _post(url, REQUEST)
    assert status == 400
    assert "X-Autodev-Task-Id" in json.loads(body)["error"]["message"]
    unknown = "00000000-0000-0000-0000-000000000000"
    status, body = _post(
        url, REQUEST, {"X-Autodev-Task-Id": unknown, "X-Autodev-Workspace": str(tmp_path)}
    )
    assert status == 404
    assert unknown in json.loads(body)["error"]["message"]
    assert _get(f"{scripted_model.url}/_scripted/tasks/{unknown}")[0] == 404
