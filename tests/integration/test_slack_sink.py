"""The local Slack sink answers like Slack over real HTTP, and our client retries through it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk.errors import SlackApiError

from autodev.local.slack import sink as slack_sink
from autodev.local.testing import point_slack_at
from autodev.slack import client as slack_client


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[slack_sink.SlackSink]:
    monkeypatch.setenv("AUTODEV_STATE_DIR", str(tmp_path))
    with slack_sink.SlackSink() as running:
        yield point_slack_at(running, monkeypatch)


def test_post_update_and_thread_are_recorded(sink: slack_sink.SlackSink) -> None:
    web = slack_client.web_client()
    assert web.base_url == sink.api_url
    posted = web.chat_postMessage(channel="C1", text="started", blocks=[])
    reply = web.chat_postMessage(channel="C1", text="in thread", thread_ts=posted["ts"])
    web.chat_update(channel="C1", ts=posted["ts"], text="finished")

    calls = sink.calls()
    assert [call.method for call in calls] == [
        "chat.postMessage",
        "chat.postMessage",
        "chat.update",
    ]
    assert calls[0].ts == posted["ts"]
    assert calls[1].thread_ts == posted["ts"]
    assert reply["ts"] != posted["ts"]
    texts = [m["text"] for m in sink.messages("C1")]
    assert texts == ["finished", "in thread"]
    thread = web.conversations_replies(channel="C1", ts=posted["ts"])["messages"]
    assert [m["text"] for m in thread] == ["finished", "in thread"]


def test_update_of_unknown_message_fails_like_slack(sink: slack_sink.SlackSink) -> None:
    with pytest.raises(SlackApiError) as raised:
        slack_client.web_client().chat_update(channel="C1", ts="1.000001", text="x")
    assert raised.value.response["error"] == "message_not_found"


def test_rate_limit_is_retried_after_retry_after(sink: slack_sink.SlackSink) -> None:
    sink.fail_next(2, status=429, retry_after=0, method="chat.postMessage")
    answer = slack_client.web_client().chat_postMessage(channel="C9", text="hello")
    assert answer["ok"]
    statuses = [call.status for call in sink.calls("chat.postMessage")]
    assert statuses == [429, 429, 200]


def test_response_url_posts_are_recorded_and_readable_remotely(
    sink: slack_sink.SlackSink,
) -> None:
    url = sink.response_url("cmd-1")
    answer = slack_client.response_url_client(url).send(text="done", response_type="in_channel")
    assert answer.status_code == 200
    remote = slack_sink.RemoteSink(sink.url)
    assert remote.alive()
    [call] = remote.calls("response_url")
    assert call.key == "cmd-1"
    assert call.text == "done"
    remote.fail_next(1, method="chat.postMessage")
    slack_client.web_client().chat_postMessage(channel="C2", text="x")
    assert [c.status for c in remote.calls("chat.postMessage")] == [429, 200]
    remote.clear()
    assert sink.calls() == []


def test_announced_sink_is_found_and_stale_file_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(slack_sink.SINK_URL_ENV, raising=False)
    with slack_sink.running(tmp_path) as running:
        assert slack_sink.announced_url(tmp_path) == running.url
    assert slack_sink.announced_url(tmp_path) is None
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = {"url": "http://127.0.0.1:9", "pid": dead.pid}
    (tmp_path / slack_sink.ANNOUNCE_FILE).write_text(json.dumps(stale))
    assert slack_sink.announced_url(tmp_path) is None
