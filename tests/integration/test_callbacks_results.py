"""Results: the cache and its polling API, Slack result messages, registration checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from autodev import callbacks, progress
from autodev.errors import InvalidInput, NotFound
from autodev.local.lambdas import load_module
from autodev.local.slack.sink import SlackSink
from autodev.local.testing import point_slack_at
from tests.conftest import ROOT


def _handler(name: str) -> ModuleType:
    return load_module(ROOT / "functions" / name / "handler.py")


@pytest.fixture
def sink(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackSink]:
    monkeypatch.delenv("AUTODEV_EVENT_BUS", raising=False)
    with SlackSink() as running:
        yield point_slack_at(running, monkeypatch)


def _get(path_id: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    event = {
        "resource": "/results/{id}",
        "path": f"/results/{path_id}",
        "httpMethod": "GET",
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"id": path_id},
        "requestContext": {"httpMethod": "GET", "path": f"/results/{path_id}", "stage": "prod"},
        "body": None,
        "isBase64Encoded": False,
    }
    answer: dict[str, Any] = _handler("results_api").handler(event, None)
    return answer


def test_slack_result_message_in_the_thread_with_buttons(sink: SlackSink) -> None:
    callbacks.register_callback(
        "wf-s", {"type": "slack", "slackChannel": "C9", "slackThreadTs": "123.456"}
    )
    diff = callbacks.save_artifact("wf-s", "diff", "--- a\n+++ b\n", content_type="text/x-diff")
    callbacks.deliver_result(
        "wf-s",
        {
            "status": "succeeded",
            "template": "bug-fix",
            "summary": "Fixed the NPE in AccountTrigger",
            "branch": "autodev/fix-npe",
            "artifacts": [{"id": diff, "name": "diff"}],
        },
    )
    report = _handler("deliver_results").handler({}, None)
    assert report["ok"]
    assert len(report["delivered"]) == 1
    (post,) = sink.calls("chat.postMessage")
    assert post.channel == "C9"
    assert post.thread_ts == "123.456"
    text = post.block_text()
    assert "Fixed the NPE" in text
    assert "autodev/fix-npe" in text
    assert diff in text
    buttons = [e for b in post.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {b["action_id"]: b["value"] for b in buttons if "value" in b} == {
        "workflow_view": "wf-s",
        "workflow_retry": "wf-s",
    }
    assert post.args["metadata"]["event_payload"]["delivery_id"]


def test_an_unknown_slack_channel_is_dead_with_the_reason(sink: SlackSink) -> None:
    callbacks.register_callback("wf-x", {"type": "slack", "channel": "C404"})
    callbacks.deliver_result("wf-x", {"status": "succeeded"})
    sink.fail_next(1, status=200, method="chat.postMessage")  # answered ok: false
    callbacks.deliver_due()
    (status,) = callbacks.delivery_status("wf-x")
    assert status.status in ("pending", "dead")
    assert "Slack answered" in (status.last_error or "")


def test_polling_serves_the_cached_result_and_its_deliveries(sink: SlackSink) -> None:
    callbacks.register_callback("wf-p", {"type": "slack", "channel": "C1"})
    result_id = callbacks.deliver_result("wf-p", {"status": "failed", "error": "tests failed"})
    by_target = callbacks.get_result("wf-p")
    assert isinstance(by_target, callbacks.CachedResult)
    assert by_target.id == result_id
    assert by_target.status == "failed"
    assert by_target.deliveries[0].status == "pending"
    answer = _get(result_id)
    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert body["result"] == {"status": "failed", "error": "tests failed"}
    assert body["deliveries"][0]["destination"] == "C1"
    assert _get("no-such-thing")["statusCode"] == 404
    with pytest.raises(NotFound):
        callbacks.get_result("no-such-thing")
    artifact = callbacks.save_artifact("wf-p", "report", "# Report\n")
    raw = _get(artifact, {"raw": "1"})
    assert raw["statusCode"] == 200
    assert raw["body"] == "# Report\n"


def test_deliver_result_finishes_the_workflows_progress(sink: SlackSink) -> None:
    progress.start_tracking("wf-done", "bug-fix", kind="workflow")
    callbacks.deliver_result("wf-done", {"status": "succeeded"})
    state = progress.get_progress("wf-done")
    assert state is not None
    assert state.status == "completed"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "carrier-pigeon"}, "slack, webhook or event"),
        ({"type": "slack"}, "channel"),
        ({"type": "webhook", "url": "http://hooks.example/x"}, "https"),
        ({"type": "webhook", "url": "https://169.254.169.254/x"}, "metadata"),
        ({"type": "webhook", "url": "https://hooks.example/x", "secret": "nope"}, "whsec_"),
    ],
)
def test_bad_callbacks_are_refused_and_nothing_is_stored(
    database: str, spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        callbacks.register_callback("wf-bad", spec)
    callbacks.deliver_result("wf-bad", {"status": "succeeded"})
    assert callbacks.delivery_status("wf-bad") == []


def test_bad_results_are_refused(database: str) -> None:
    with pytest.raises(InvalidInput):
        callbacks.deliver_result("wf-r", {"status": "sideways"})
    with pytest.raises(InvalidInput):
        callbacks.deliver_result("wf-r", {}, target_kind="galaxy")
    with pytest.raises(NotFound):
        callbacks.get_result("wf-r")


def test_kick_delivery_sends_at_once_off_aws(
    sink: SlackSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTODEV_DELIVERY_FUNCTION", raising=False)
    callbacks.register_callback("wf-k", {"type": "slack", "channel": "CK"})
    callbacks.deliver_result("wf-k", {"status": "succeeded", "summary": "kicked"})
    callbacks.kick_delivery()
    (post,) = sink.calls("chat.postMessage")
    assert "kicked" in post.block_text()
    assert callbacks.delivery_status("wf-k")[0].status == "delivered"
