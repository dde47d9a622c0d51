"""Scheduled runs driven through signed Slack requests on the local stack.

Slack → loopback gateway → the real handlers → the Slack worker → a ``scheduled_jobs`` row and
a schedule in moto's EventBridge Scheduler; the local stack's ticker (here with a clock the
test moves) fires it: moto's Step Functions interpreter runs the state machine, whose first
states register the run (functions/scheduled_run) and announce it in the channel that
scheduled it; the worker double answers the agent steps.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from autodev.aws import client
from autodev.config import get_settings
from autodev.db import connection
from autodev.local import delivery
from autodev.local.scheduler import ScheduleTicker
from autodev.local.slack.sender import SlackSender
from autodev.local.slack.services import GATEWAY_URL_ENV, SERVICES, SINK_URL_ENV
from autodev.local.slack.sink import RecordedCall, RemoteSink
from autodev.local.stack import LocalStack
from autodev.local.testing import WorkerDouble, wait_for, wait_until_finished
from autodev.schedules import parse_expression
from autodev.workflows import get_workflow_status, sfn

SECRET = "schedules-signing-secret-0123456789"
CHANNEL = "CNIGHTLY"


@pytest.fixture
def slack_stack(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    monkeypatch.setenv("APPROVERS", "UAPPROVER")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    get_settings.cache_clear()
    with LocalStack(services=[*SERVICES, delivery.SERVICE], poke_scaler=False) as stack:
        double = WorkerDouble().start()
        try:
            yield stack
        finally:
            double.stop()
    get_settings.cache_clear()


def _sender(user: str = "UREQUESTER") -> SlackSender:
    return SlackSender(SECRET, os.environ[GATEWAY_URL_ENV], user_id=user, channel_id=CHANNEL)


def _answer(sender: SlackSender, command: str) -> RecordedCall:
    sink = RemoteSink(os.environ[SINK_URL_ENV])
    answer, key = sender.command(command)
    assert answer.status == 200

    def found() -> RecordedCall | None:
        return next((c for c in sink.calls("response_url") if c.key == key), None)

    call: RecordedCall = wait_for(found, what=f"the answer to {command}")
    return call


def _jobs() -> list[dict[str, Any]]:
    with connection() as conn:
        return [dict(r) for r in conn.execute("SELECT * FROM scheduled_jobs").fetchall()]


def _schedules() -> list[str]:
    found = client("scheduler").list_schedules(GroupName="autodev")["Schedules"]
    return [str(s["Name"]) for s in found]


def _workflows() -> list[dict[str, Any]]:
    with connection() as conn:
        rows = conn.execute("SELECT * FROM workflows ORDER BY created_at").fetchall()
    return [dict(r) for r in rows]


def test_a_schedule_made_in_slack_fires_a_workflow_and_unscheduling_removes_it(
    slack_stack: LocalStack,
) -> None:
    sink = RemoteSink(os.environ[SINK_URL_ENV])
    requester = _sender()

    # 1. Scheduled from Slack: a row and an EventBridge Scheduler schedule of the same name.
    made = _answer(
        requester,
        "/workflow schedule bug-fix cron(0 9 ? * MON-FRI *) tz=Europe/Paris"
        " AccountTrigger NPE on bulk insert",
    )
    assert made.args.get("response_type") == "in_channel"
    match = re.search(r"as `(bug-fix-[0-9a-f]{8})`", made.text)
    assert match, made.text
    name = match.group(1)
    assert "cron(0 9 ? * MON-FRI *) Europe/Paris" in made.text
    [job] = _jobs()
    assert (job["name"], job["template"], job["created_by"]) == (name, "bug-fix", "UREQUESTER")
    assert job["input"] == {"description": "AccountTrigger NPE on bulk insert"}
    assert job["slack_channel"] == CHANNEL
    schedule = client("scheduler").get_schedule(Name=name, GroupName="autodev")
    assert schedule["ScheduleExpression"] == "cron(0 9 ? * MON-FRI *)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert schedule["Target"]["Arn"] == sfn.state_machine_arn("bug-fix")
    assert schedule["Target"]["RoleArn"] == os.environ["AUTODEV_SCHEDULER_ROLE_ARN"]
    assert json.loads(schedule["Target"]["Input"]) == {
        "scheduled_job_id": str(job["id"]),
        "scheduled_time": "<aws.scheduler.scheduled-time>",
    }

    # 2. The ticker fires it at its next weekday 09:00 in Paris, and only then.
    expression = parse_expression(schedule["ScheduleExpression"], "Europe/Paris")
    due = expression.next_after(datetime.now(UTC))
    assert due is not None
    ticker = ScheduleTicker("autodev")
    assert ticker.tick(now=due - timedelta(seconds=1)) == []
    [fired] = ticker.tick(now=due + timedelta(seconds=1))
    assert ticker.tick(now=due + timedelta(seconds=2)) == []  # once per occurrence
    wait_for(lambda: _workflows(), what="the scheduled run's workflow")
    [workflow] = _workflows()
    assert workflow["execution_arn"] == fired.execution_arn
    status = wait_until_finished(str(workflow["id"]), timeout=60)
    assert status.status == "succeeded"
    assert status.requested_by == "UREQUESTER"
    assert status.input == {"description": "AccountTrigger NPE on bulk insert"}

    # 3. The run said so in the channel that scheduled it, and its result went to that thread.
    [announced] = [
        c
        for c in sink.calls("chat.postMessage")
        if c.channel == CHANNEL and "Scheduled run of *bug-fix*" in c.text
    ]
    assert f"schedule `{name}`" in announced.text
    assert "<@UREQUESTER>" in announced.text

    def result_in_thread() -> list[RecordedCall]:
        return [
            c
            for c in sink.calls("chat.postMessage")
            if c.thread_ts == announced.ts
            and (c.args.get("metadata") or {}).get("event_type") == "autodev_result"
        ]

    wait_for(result_in_thread, what="the scheduled run's result in its thread")
    [job] = _jobs()
    assert (job["runs"], str(job["last_workflow_id"])) == (1, str(workflow["id"]))

    # 4. Scheduler delivers at least once: a second start for the same firing runs nothing.
    again = client("stepfunctions").start_execution(
        stateMachineArn=sfn.state_machine_arn("bug-fix"),
        input=json.dumps(
            {
                "scheduled_job_id": str(job["id"]),
                "scheduled_time": fired.occurrence.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ),
    )
    wait_for(
        lambda: (
            client("stepfunctions").describe_execution(executionArn=again["executionArn"])["status"]
            == "SUCCEEDED"
        ),
        what="the duplicate start to end",
    )
    assert len(_workflows()) == 1

    # 5. Listed; its audit trail says who scheduled it and that the schedule started the run.
    listed = _answer(requester, "/workflow schedules")
    assert name in listed.block_text()
    assert "1 run(s)" in listed.block_text()
    trail = _answer(requester, f"/workflow audit {workflow['id']}").block_text()
    assert f"scheduled bug-fix cron(0 9 ? * MON-FRI *) Europe/Paris as {name}" in trail
    assert f"(scheduled run of {name}, set up by UREQUESTER)" in trail
    assert "recorded the end: succeeded" in trail

    # 6. Only its creator or an approver may remove it; then the row and the schedule are gone.
    refused = _answer(_sender("UINTRUDER"), f"/workflow unschedule {name}")
    assert f"only UREQUESTER (who created it) or an approver may remove {name}" in refused.text
    assert _schedules() == [name]
    removed = _answer(requester, f"/workflow unschedule {name}")
    assert f"removed the schedule `{name}`" in removed.text
    assert _jobs() == []
    assert _schedules() == []
    with pytest.raises(ClientError, match="ResourceNotFound"):
        client("scheduler").get_schedule(Name=name, GroupName="autodev")

    # 7. A firing already on its way when the schedule was removed starts nothing.
    late = client("stepfunctions").start_execution(
        stateMachineArn=sfn.state_machine_arn("bug-fix"),
        input=json.dumps(
            {"scheduled_job_id": str(job["id"]), "scheduled_time": "2030-01-01T08:00:00Z"}
        ),
    )
    wait_for(
        lambda: (
            client("stepfunctions").describe_execution(executionArn=late["executionArn"])["status"]
            == "SUCCEEDED"
        ),
        what="the late start to end",
    )
    assert len(_workflows()) == 1
    assert get_workflow_status(str(workflow["id"])).status == "succeeded"


BAD_SCHEDULES = [
    (
        "/workflow schedule bug-fix cron(0 9 * * MON-FRI *) NPE",
        "one of day-of-month and day-of-week must be `?` (and not both)",
    ),
    ("/workflow schedule bug-fix cron(0 25 ? * MON *) NPE", "the hours field has 25"),
    ("/workflow schedule bug-fix rate(1 fortnight) NPE", "expected rate(N minutes|hours|days)"),
    ("/workflow schedule bug-fix at(2001-01-01T09:00:00) NPE", "is in the past"),
    ("/workflow schedule bug-fix rate(1 day) tz=Mars/Olympus NPE", "is not a time zone"),
    ("/workflow schedule code-review rate(1 day) focus=security", "'target' is a required"),
    ("/workflow schedule nightly rate(1 day)", "no workflow template 'nightly'"),
]


def test_a_bad_schedule_is_refused_with_the_reason_and_nothing_is_created(
    slack_stack: LocalStack,
) -> None:
    for command, reason in BAD_SCHEDULES:
        answer = _answer(_sender(), command)
        assert answer.text.startswith(":warning:"), command
        assert reason in answer.text, (command, answer.text)
    assert _jobs() == []
    assert _schedules() == []
