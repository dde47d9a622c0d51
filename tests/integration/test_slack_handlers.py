"""The Slack handlers fed real API Gateway REST proxy events, genuine and broken.

Broken requests (forged, replayed, unsigned, oversized, garbled) must be refused with no
database row, no Step Functions execution and no Slack message; genuine ones must act. The
local stack is up (moto on loopback), so the handlers hand their jobs to the Slack worker as
in AWS: an asynchronous Lambda invoke, which moto dispatches to functions/slack_worker.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from autodev.local import lambdas
from autodev.local.slack.gateway import call_handler, proxy_event
from autodev.local.slack.sender import SlackSender
from autodev.local.slack.sink import RecordedCall, SlackSink
from autodev.local.stack import LocalStack
from autodev.local.testing import wait_for
from autodev.observability import child_logger
from autodev.slack.verify import MAX_BODY_BYTES, sign

SECRET = "test-signing-secret-0123456789abcdef"
METRICS_LOGGER = child_logger("autodev.observability").name


@pytest.fixture
def slack_env(
    local_stack: LocalStack, slack_sink: SlackSink, monkeypatch: pytest.MonkeyPatch
) -> SlackSink:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    return slack_sink


def _nothing_sent(sink: SlackSink) -> bool:
    """No Slack call, once every job handed to the Slack worker has finished."""
    assert lambdas.wait_for_background(10)
    return sink.calls() == []


def _answer(sink: SlackSink, key: str) -> RecordedCall:
    found: RecordedCall = wait_for(
        lambda: next((c for c in sink.calls("response_url") if c.key == key), None),
        timeout=30,
        what=f"the answer to {key}",
    )
    return found


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
        "tampered": proxy_event(
            "/slack/commands",
            body.replace("bug-fix", "deployment").encode(),
            sign(SECRET, body),
        ),
    }
    return {name: ("slack_commands", e) for name, e in events.items()}


BROKEN = _broken_events()


def _signed(path: str, body: str) -> dict[str, Any]:
    return proxy_event(path, body.encode(), sign(SECRET, body))


def _interaction(**changes: Any) -> dict[str, Any]:
    """A signed click whose payload has ``changes`` applied to a genuine one."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "team": {"id": "T1"},
        "channel": {"id": "C1"},
        "trigger_id": "1.2",
        "response_url": "http://127.0.0.1:9/response",
        "actions": [{"action_id": "view_details", "value": "x", "action_ts": "1.0"}],
    }
    payload.update(changes)
    return _signed("/slack/interactions", urllib.parse.urlencode({"payload": json.dumps(payload)}))


def _mention_envelope(event: Any) -> dict[str, Any]:
    envelope = {"type": "event_callback", "event_id": "Ev1", "event": event}
    return _signed("/slack/events", json.dumps(envelope))


# Genuine (correctly signed) requests whose bodies do not fit what Slack sends; built when the
# test runs, so that they are fresh (signed within Slack's five-minute window).
MALFORMED: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "form-that-does-not-parse": ("slack_commands", lambda: _signed("/slack/commands", "a=1&&&=")),
    "command-without-user": (
        "slack_commands",
        lambda: _signed("/slack/commands", "command=%2Fworkflow&text=list"),
    ),
    "payload-not-json": (
        "slack_interactions",
        lambda: _signed("/slack/interactions", urllib.parse.urlencode({"payload": "{not json"})),
    ),
    "payload-a-list": (
        "slack_interactions",
        lambda: _signed("/slack/interactions", urllib.parse.urlencode({"payload": "[1, 2]"})),
    ),
    "user-a-string": ("slack_interactions", lambda: _interaction(user="U1")),
    "actions-not-objects": ("slack_interactions", lambda: _interaction(actions=["approve"])),
    "actions-an-object": ("slack_interactions", lambda: _interaction(actions={"action_id": "x"})),
    "no-actions": ("slack_interactions", lambda: _interaction(actions=[])),
    "type-missing": ("slack_interactions", lambda: _interaction(type=None)),
    "event-a-list": ("slack_events", lambda: _mention_envelope(["app_mention"])),
    "mention-user-an-object": (
        "slack_events",
        lambda: _mention_envelope({"type": "app_mention", "user": {"id": "U1"}, "channel": "C1"}),
    ),
    "event-body-a-string": ("slack_events", lambda: _signed("/slack/events", json.dumps("hi"))),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_requests_are_refused_and_leave_no_trace(case: str, slack_env: SlackSink) -> None:
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
    assert _nothing_sent(slack_env)


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_signed_requests_get_400_and_one_log_line(
    case: str, slack_env: SlackSink, caplog: pytest.LogCaptureFixture
) -> None:
    from autodev.local.slack.gateway import LocalContext, load_handler

    function, build = MALFORMED[case]
    event = build()
    before = _counts()
    with caplog.at_level(logging.INFO):
        answer = load_handler(function)(event, LocalContext(function, "req-1"))
    assert answer["statusCode"] == 400
    assert answer["body"] == "malformed request"
    # Outside AWS a metric is a log line of autodev.observability (EMF on stdout in AWS).
    metric_lines = [r for r in caplog.records if r.name == METRICS_LOGGER]
    lines = [r for r in caplog.records if r.name.startswith("autodev") and r not in metric_lines]
    assert [r.getMessage() for r in lines] == ["slack request malformed"]
    assert lines[0].levelno == logging.WARNING
    [counted] = metric_lines
    assert counted.metrics["SlackRequestsRefused"] == [1.0]  # type: ignore[attr-defined]
    assert counted.metrics["reason"] == "garbled"  # type: ignore[attr-defined]
    assert _counts() == before == dict.fromkeys(before, 0)
    assert _executions() == 0
    assert _nothing_sent(slack_env)


def test_the_slack_workers_lines_carry_the_correlation_id_of_the_request(
    slack_env: SlackSink, capsys: pytest.CaptureFixture[str]
) -> None:
    from autodev.local.slack.gateway import LocalContext, load_handler

    # A click on a link button: the worker has nothing to do but to say so in its log.
    event = _interaction(actions=[{"action_id": "open_link", "value": "x", "action_ts": "1.0"}])
    request_id = event["requestContext"]["requestId"]
    front = LocalContext("slack_interactions", "req-front")
    assert load_handler("slack_interactions")(event, front)["statusCode"] == 200
    assert _nothing_sent(slack_env)  # the job has run
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line[:1] == "{"]
    [line] = [line for line in logged if line["message"] == "click needs no action"]
    assert line["correlation_id"] == request_id  # the API Gateway request id, passed on
    assert line["function_name"] != front.function_name  # logged by the Slack worker
    assert line["function_request_id"] != front.aws_request_id


def test_other_interactions_and_events_are_acknowledged_without_work(
    slack_env: SlackSink,
) -> None:
    from autodev.local.slack.gateway import LocalContext, load_handler

    quiet = {
        # Views and shortcuts are not used: acknowledged whatever else they carry.
        "slack_interactions": _interaction(type="view_submission", user="U1", actions="none"),
        # Events other than mentions, and mentions by bots (our own messages), need nothing.
        "slack_events": _mention_envelope({"type": "message", "user": {"id": "U1"}}),
    }
    for function, event in quiet.items():
        answer = load_handler(function)(event, LocalContext(function, "req-1"))
        assert (answer["statusCode"], answer["body"]) == (200, "")
    bot = _mention_envelope({"type": "app_mention", "bot_id": "B1", "channel": "C1"})
    answer = load_handler("slack_events")(bot, LocalContext("slack_events", "req-2"))
    assert (answer["statusCode"], answer["body"]) == (200, "")
    assert _counts() == dict.fromkeys(_counts(), 0)
    assert _nothing_sent(slack_env)


def test_events_endpoint_refuses_forgery_but_answers_url_verification(
    slack_env: SlackSink,
) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aB"})
    forged = call_handler("/slack/events", body.encode(), sign("wrong", body))
    assert forged["statusCode"] == 401
    genuine = call_handler("/slack/events", body.encode(), sign(SECRET, body))
    assert genuine["statusCode"] == 200
    assert json.loads(genuine["body"]) == {"challenge": "3eZbrw1aB"}
    assert _counts()["audit_log"] == 0


def test_usage_is_answered_at_once_without_side_effects(slack_env: SlackSink) -> None:
    sender = SlackSender(SECRET, response_url_base=slack_env.url)
    answer, _ = sender.command("/workflow bogus")
    assert answer.status == 200
    assert "Unknown subcommand `bogus`" in answer.text
    assert answer.json()["response_type"] == "ephemeral"
    assert _counts()["audit_log"] == 0
    assert _nothing_sent(slack_env)


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        # Postgres can store neither: refused here, not after "Starting" was posted.
        ("/workflow start bug-fix NPE\x00 on bulk insert", "contains a NUL character"),
        ("/workflow approve 6f1c1a2b fine\x00", "contains a NUL character"),
        # inf, NaN and 1e308 would overflow the numeric column.
        ("/workflow start bug-fix NPE budget=1e308", "above the most a workflow may have"),
        ("/workflow start bug-fix NPE budget=inf", "budget must be a number of US dollars"),
        ("/workflow start bug-fix NPE budget=0", "budget must be a number of US dollars"),
        ("/workflow start bug-fix NPE budget=lots", "budget is a number of US dollars"),
    ],
)
def test_bad_text_and_budgets_are_refused_before_anything_is_posted(
    typed: str, said: str, slack_env: SlackSink
) -> None:
    sender = SlackSender(SECRET, response_url_base=slack_env.url)
    answer, _ = sender.command(typed)
    assert answer.status == 200
    assert answer.json()["response_type"] == "ephemeral"
    assert said in answer.text
    assert _counts() == dict.fromkeys(_counts(), 0)
    assert _executions() == 0
    assert _nothing_sent(slack_env)


def test_a_budget_given_in_slack_is_the_workflows(slack_env: SlackSink) -> None:
    from autodev.db import connection

    sender = SlackSender(SECRET, response_url_base=slack_env.url)
    answer, _ = sender.command("/workflow start bug-fix NPE on insert budget=3.5")
    assert (answer.status, answer.text) == (200, "")  # checked first, then answered by the job

    def started() -> dict[str, Any] | None:
        with connection() as conn:
            return conn.execute("SELECT budget_usd, started_by, input FROM workflows").fetchone()

    row = wait_for(started, what="the workflow")
    assert (float(row["budget_usd"]), row["started_by"]) == (3.5, "slack")
    assert row["input"] == {"description": "NPE on insert"}  # budget= is not input
    assert lambdas.wait_for_background(10)


def test_a_retried_delivery_is_acknowledged_without_work(slack_env: SlackSink) -> None:
    sender = SlackSender(SECRET, response_url_base=slack_env.url)
    body, _ = sender.command_body("/workflow list")
    answer = sender.send("/slack/commands", body, extra_headers={"X-Slack-Retry-Num": "1"})
    assert answer.status == 200
    assert _nothing_sent(slack_env)
    assert _counts()["audit_log"] == 0


def test_a_start_asks_the_scaler_for_its_worker_as_the_command_arrives(
    slack_env: SlackSink, scaler_asks: Callable[[], list[dict[str, Any]]]
) -> None:
    sender = SlackSender(SECRET, response_url_base=slack_env.url)

    def requested(typed: str, status: int = 200, **options: Any) -> list[dict[str, Any]]:
        """What the front door asked the scaler for, handling ``typed``."""
        before = len(scaler_asks())
        answer, _ = sender.command(typed, **options)
        assert answer.status == status
        return [e for e in scaler_asks()[before:] if e.get("reason") == "workflow requested"]

    # Asked before the Slack worker has checked anything: the worker boots meanwhile. The
    # scaler's log lines carry the command's correlation id. The start asks no more.
    [asked] = requested("/workflow start bug-fix NPE on insert")
    assert asked.pop("correlation_id")
    assert asked == {"reason": "workflow requested", "template": "bug-fix", "expected": 1}
    assert [e for e in scaler_asks() if e.get("reason") == "workflow starting"] == []
    # Nothing for what starts no worker: an unknown template, another command, a retried
    # delivery (the first one asked), a forged request.
    assert requested("/workflow start nosuch NPE") == []
    assert requested("/workflow list") == []
    retry = {"X-Slack-Retry-Num": "1"}
    assert requested("/workflow start bug-fix NPE", extra_headers=retry) == []
    assert requested("/workflow start bug-fix NPE", 401, secret="not-the-secret") == []


def test_genuine_list_and_orchestrator_commands_act(slack_env: SlackSink) -> None:
    sender = SlackSender(SECRET, response_url_base=slack_env.url)
    listed, list_key = sender.command("/workflow list")
    shown, orchestrator_key = sender.command("/orchestrator")
    assert (listed.status, shown.status) == (200, 200)
    templates = _answer(slack_env, list_key)
    for name in ("bug-fix", "deployment", "code-review", "full-analysis-improvement"):
        assert f"*{name}*" in templates.block_text()
    summary = _answer(slack_env, orchestrator_key)
    assert "Orchestrator" in summary.block_text()
    assert "queued" in summary.block_text()
    # Read as a person would: no field names, no Python None.
    assert "oldest queued: none" in summary.block_text()
    assert "None" not in summary.block_text()
    assert "_seconds" not in summary.block_text()
    assert _counts()["audit_log"] == 2  # each genuine request is on the audit trail
    assert _counts()["workflows"] == 0
