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


def _http(
    url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_page_and_its_view_follow_posts_edits_deletes_and_answers(
    sink: slack_sink.SlackSink,
) -> None:
    status, page = _http(sink.url + "/")
    assert status == 200
    assert b"autodev" in page
    assert b"/page.js" in page
    web = slack_client.web_client()
    root = web.chat_postMessage(channel="C1", text="root")
    card = web.chat_postMessage(channel="C1", text="card", thread_ts=root["ts"])
    gone = web.chat_postMessage(channel="C1", text="gone")
    web.chat_delete(channel="C1", ts=gone["ts"])
    # A click's answer replaces the clicked message; a command's is shown to its user only.
    origin = f"channel=C1&user=U1&ts={card['ts']}&thread_ts={root['ts']}"
    click = f"{sink.response_url('k1')}?{origin}"
    _http(click, json.dumps({"replace_original": True, "text": "decided"}).encode(), JSON)
    answer = f"{sink.response_url('k2')}?channel=C1&user=U1"
    _http(answer, json.dumps({"text": "only for you"}).encode(), JSON)

    status, raw = _http(sink.url + "/_sink/view")
    view = json.loads(raw)
    assert status == 200
    shown = {m["ts"]: m for m in view["messages"]}
    assert gone["ts"] not in shown
    assert shown[card["ts"]]["text"] == "decided"
    assert shown[card["ts"]]["edited"] is True
    assert [(e["text"], e["ephemeral_to"]) for e in view["ephemeral"]] == [("only for you", "U1")]
    assert view["connected"] is False  # no gateway: the page says its buttons cannot send


def test_only_the_page_itself_may_send_signed_requests(sink: slack_sink.SlackSink) -> None:
    send = sink.url + "/_page/send"
    body = json.dumps({"user": "U1", "channel": "C1", "text": "/workflow list"}).encode()
    form = b"user=U1&channel=C1&text=%2Fworkflow+list"
    # Another site's form (no preflight) and another origin are refused ...
    assert _http(send, form, {"Content-Type": "application/x-www-form-urlencoded"})[0] == 415
    assert _http(send, body, {**JSON, "Origin": "http://evil.example"})[0] == 403
    # ... and without a gateway, the page's own request is told why nothing was sent.
    status, raw = _http(send, body, {**JSON, "Origin": sink.url})
    assert status == 503
    assert "no local gateway" in json.loads(raw)["error"]
    assert sink.calls() == []


JSON = {"Content-Type": "application/json"}
