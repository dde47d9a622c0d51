"""The Slack handlers fed real API Gateway REST proxy events, genuine and broken.

Broken requests (forged, replayed, unsigned, oversized, garbled) must be refused with no
database row, no Step Functions execution and no Slack message; genuine ones must act.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autodev.slack import sink as slack_sink
from autodev.local.slack.gateway import call_handler, proxy_event
from autodev.local.slack.sender import SlackSender
from autodev.slack.verify import MAX_BODY_BYTES, sign

SECRET = "test-signing-secret-0123456789abcdef"


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    from autodev.aws import reset_clients

    reset_clients()
    try:
        yield url
    finally:
        reset_clients()
        server.stop()


@pytest.fixture
def slack_env(
    database: str, moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[slack_sink.SlackSink]:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.delenv("SLACK_WORKER_FUNCTION", raising=False)  # any job would run inline
    with slack_sink.SlackSink() as sink:
        monkeypatch.setenv(slack_sink.SINK_URL_ENV, sink.url)
        yield sink


def _counts() -> dict[str, int]:
    from autodev.db import connection

    with connection() as conn:
        return {
            table: int(conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"])  # type: ignore[index]
            for table in ("workflows", "audit_log", "slack_threads", "autonomous_tasks")
        }


def _executions() -> int:
    from autodev.aws import client

    sfn = client("stepfunctions")
    total = 0
    for machine in sfn.list_state_machines()["stateMachines"]:
        total += len(sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"])
    return total


def _command_body(text: str) -> str:
    sender = SlackSender(SECRET, response_url_base="http://127.0.0.1:9")
    body, _ = sender.command_body(text)
    return body


def _broken_events() -> dict[str, tuple[str, dict[str, Any]]]:
    body = _command_body("/workflow start bug-fix AccountTrigger NPE on bulk insert")
    stale = int(time.time()) - 6 * 60
    oversized = body + "&pad=" + "a" * MAX_BODY_BYTES
    events = {
        "forged": proxy_event("/slack/commands", body.encode(), sign("not-the-secret", body)),
        "replayed": proxy_event("/slack/commands", body.encode(), sign(SECRET, body, stale)),
        "unsigned": proxy_event(
            "/slack/commands", body.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        ),
        "oversized": proxy_event("/slack/commands", oversized.encode(), sign(SECRET, oversized)),
        "garbled": proxy_event("/slack/commands", b"\xff\xfe\x00garbage", sign(SECRET, "garbage")),
        "garbled-signed-form": proxy_event("/slack/commands", b"a=1&&&=", sign(SECRET, "a=1&&&=")),
        "tampered": proxy_event(
            "/slack/commands",
            body.replace("bug-fix", "deployment").encode(),
            sign(SECRET, body),
        ),
    }
    payload = urllib.parse.urlencode({"payload": "{not json"})
    events["garbled-interaction"] = proxy_event(
        "/slack/interactions", payload.encode(), sign(SECRET, payload)
    )
    return {
        name: ("slack_commands" if "interaction" not in name else "slack_interactions", e)
        for name, e in events.items()
    }


BROKEN = _broken_events()


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_requests_are_refused_and_leave_no_trace(
    case: str, slack_env: slack_sink.SlackSink
) -> None:
    from autodev.local.slack.gateway import LocalContext, load_handler

    function, event = BROKEN[case]
    before = _counts()
    answer = load_handler(function)(event, LocalContext(function, "req-1"))
    expected = 413 if case == "oversized" else 401
    assert answer["statusCode"] == expected
    if case == "oversized":
        assert "64 KiB" in answer["body"]
    else:
        assert answer["body"] == "invalid request signature"
    assert _counts() == before == dict.fromkeys(before, 0)
    assert _executions() == 0
    assert slack_env.calls() == []


def test_events_endpoint_refuses_forgery_but_answers_url_verification(
    slack_env: slack_sink.SlackSink,
) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aB"})
    forged = call_handler("/slack/events", body.encode(), sign("wrong", body))
    assert forged["statusCode"] == 401
    genuine = call_handler("/slack/events", body.encode(), sign(SECRET, body))
    assert genuine["statusCode"] == 200
    assert json.loads(genuine["body"]) == {"challenge": "3eZbrw1aB"}
    assert _counts()["audit_log"] == 0


def test_usage_is_answered_at_once_without_side_effects(slack_env: slack_sink.SlackSink) -> None:
    sender = SlackSender(SECRET, response_url_base=slack_env.url)
    answer, _ = sender.command("/workflow bogus")
    assert answer.status == 200
    assert "Unknown subcommand `bogus`" in answer.text
    assert answer.json()["response_type"] == "ephemeral"
    assert _counts()["audit_log"] == 0
    assert slack_env.calls() == []


def test_a_retried_delivery_is_acknowledged_without_work(slack_env: slack_sink.SlackSink) -> None:
    sender = SlackSender(SECRET, response_url_base=slack_env.url)
    body, _ = sender.command_body("/workflow list")
    answer = sender.send("/slack/commands", body, extra_headers={"X-Slack-Retry-Num": "1"})
    assert answer.status == 200
    assert _counts()["audit_log"] == 0
    assert slack_env.calls() == []


def test_genuine_list_and_orchestrator_commands_act(slack_env: slack_sink.SlackSink) -> None:
    sender = SlackSender(SECRET, response_url_base=slack_env.url)
    listed, list_key = sender.command("/workflow list")
    shown, orchestrator_key = sender.command("/orchestrator")
    assert (listed.status, shown.status) == (200, 200)
    [templates] = [c for c in slack_env.calls("response_url") if c.key == list_key]
    for name in ("bug-fix", "deployment", "code-review", "full-analysis-improvement"):
        assert f"*{name}*" in templates.block_text()
    [summary] = [c for c in slack_env.calls("response_url") if c.key == orchestrator_key]
    assert "Orchestrator" in summary.block_text()
    assert "queued" in summary.block_text()
    # Read as a person would: no field names, no Python None.
    assert "oldest queued: none" in summary.block_text()
    assert "None" not in summary.block_text()
    assert "_seconds" not in summary.block_text()
    assert _counts()["audit_log"] == 2  # each genuine request is on the audit trail
    assert _counts()["workflows"] == 0
