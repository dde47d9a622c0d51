"""The typed Slack boundary: what Slack sends (payloads) and what the worker gets (jobs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from autodev.errors import InvalidInput
from autodev.local.lambdas import load_module
from autodev.slack import jobs
from autodev.slack.commands import Action
from autodev.slack.job_models import CommandJob, InteractionJob, MentionJob, job_json, parse_job
from autodev.slack.payloads import AppMention, BlockActions, CommandForm, EventEnvelope

ROOT = Path(__file__).resolve().parents[2]

JOBS = [
    CommandJob(
        action=Action.START,
        template="bug-fix",
        input={"description": "NPE"},
        user_id="U1",
        channel_id="C1",
        team_id="T1",
        trigger_id="1.2",
        response_url="https://hooks.slack.test/r",
    ),
    InteractionJob(action_id="approve", value="ap-1", user_id="U1", action_ts="1.5"),
    MentionJob(
        event_id="Ev1",
        user_id="U1",
        channel_id="C1",
        ts="1.0",
        text="status?",
        correlation_id="api-req-1",
    ),
]


@pytest.mark.parametrize("job", JOBS, ids=lambda job: job.kind)
def test_a_job_survives_its_json_form(job: Any) -> None:
    sent = json.loads(json.dumps(job_json(job)))
    assert sent["kind"] == job.kind
    assert parse_job(sent) == job


def test_the_key_a_redelivery_repeats_identifies_each_kind() -> None:
    assert [job.request_id for job in JOBS] == ["1.2", "1.5", "Ev1"]


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ({"kind": "telepathy", "user_id": "U1"}, "job"),
        ({"kind": "interaction", "value": "x"}, "interaction.user_id"),
        ({"kind": "command", "user_id": "U1", "action": "drop-tables"}, "command.action"),
        ({"kind": "mention", "text": "hi", "token": "xoxb-secret"}, "mention.token"),
        (["command"], "job"),
    ],
)
def test_a_job_that_does_not_fit_is_refused_by_name(raw: object, where: str) -> None:
    with pytest.raises(InvalidInput, match=f"not a Slack job: {where}") as refused:
        parse_job(raw)
    assert "xoxb" not in str(refused.value)  # what was sent is never quoted


def test_the_worker_refuses_a_job_that_does_not_fit_before_any_work() -> None:
    worker = load_module(ROOT / "functions" / "slack_worker" / "handler.py")
    for event in ({"slack_job": {"kind": "interaction", "action_id": "approve"}}, {"x": 1}):
        with pytest.raises(InvalidInput):
            worker.handler(event, None)
    with pytest.raises(InvalidInput, match=r"interaction\.user_id"):
        jobs.run({"kind": "interaction", "action_id": "approve"})


def test_payloads_ignore_what_autodev_does_not_read() -> None:
    click = BlockActions.model_validate(
        {
            "type": "block_actions",
            "user": {"id": "U1", "username": "ann", "team_id": "T1"},
            "container": {"type": "message", "channel_id": "C9"},
            "actions": [{"action_id": "retry", "value": 42, "block_id": "b", "type": "button"}],
            "state": {"values": {}},
        }
    )
    assert click.channel_id == "C9"  # from the container when there is no channel
    assert click.actions[0].value == "42"  # numbers where Slack sends strings are taken
    envelope = EventEnvelope.model_validate({"type": "event_callback", "authorizations": []})
    assert envelope.event is None
    form = CommandForm.model_validate({"command": "/workflow", "user_id": "U1", "x": "y"})
    assert form.text == ""


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (BlockActions, {"type": "block_actions", "user": "U1", "actions": [{}]}),
        (BlockActions, {"type": "block_actions", "user": {"id": "U1"}, "actions": ["approve"]}),
        (BlockActions, {"type": "block_actions", "user": {"id": "U1"}, "actions": []}),
        (EventEnvelope, {"type": "event_callback", "event": ["app_mention"]}),
        (AppMention, {"type": "app_mention", "channel": {"id": "C1"}}),
        (CommandForm, {"command": "", "user_id": "U1"}),
    ],
)
def test_payloads_refuse_a_field_of_the_wrong_shape(model: Any, data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)
