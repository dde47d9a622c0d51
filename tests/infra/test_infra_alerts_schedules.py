"""Alerts, health, retention and scheduled runs in the synthesised stack."""

from __future__ import annotations

import json
from typing import Any

from infra.naming import function_name
from tests.infra.conftest import Synth, as_list

ENV = "dev"


def _function(synth: Synth, folder: str) -> str:
    name = function_name(ENV, folder)
    return next(
        logical_id
        for logical_id, resource in synth.resources("AWS::Lambda::Function").items()
        if resource["Properties"].get("FunctionName") == name
    )


def _role_of(synth: Synth, function: str) -> str:
    role: str = synth.props(function)["Role"]["Fn::GetAtt"][0]
    return role


def test_every_alarm_notifies_the_topic_when_it_fires_and_when_it_clears(synth: Synth) -> None:
    alarms = synth.resources("AWS::CloudWatch::Alarm")
    assert alarms
    for logical_id, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == props["OKActions"], logical_id
        assert len(props["OKActions"]) == 1, logical_id


def test_the_alerts_function_hears_the_alarm_topic_and_runs_every_minute(synth: Synth) -> None:
    alerts = _function(synth, "alerts")
    [subscription] = [
        s["Properties"]
        for s in synth.resources("AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "lambda"
    ]
    assert subscription["Endpoint"] == {"Fn::GetAtt": [alerts, "Arn"]}
    schedules = {
        json.dumps(s["Properties"]["Target"]["Arn"]): s["Properties"]["ScheduleExpression"]
        for s in synth.resources("AWS::Scheduler::Schedule").values()
    }
    assert schedules[json.dumps({"Fn::GetAtt": [alerts, "Arn"]})] == "rate(1 minute)"
    retention = _function(synth, "retention")
    assert schedules[json.dumps({"Fn::GetAtt": [retention, "Arn"]})] == "rate(1 hour)"


def test_the_workflow_scheduler_role_may_only_start_the_state_machines(synth: Synth) -> None:
    roles = {
        logical_id: role
        for logical_id, role in synth.resources("AWS::IAM::Role").items()
        if "start autodev workflows" in role["Properties"].get("Description", "")
    }
    [(role_id, role)] = roles.items()
    principal = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert principal["Principal"] == {"Service": "scheduler.amazonaws.com"}
    statements = synth.role_statements(role_id)
    assert {a for s in statements for a in as_list(s["Action"])} == {"states:StartExecution"}
    resources = [json.dumps(r) for s in statements for r in as_list(s["Resource"])]
    machines = synth.resources("AWS::StepFunctions::StateMachine")
    assert len(resources) == len(machines)
    assert all(":stateMachine:autodev-dev-" in r for r in resources)


def test_functions_that_create_schedules_know_the_group_and_the_role(synth: Synth) -> None:
    variables: dict[str, Any] = synth.props(_function(synth, "slack_worker"))["Environment"][
        "Variables"
    ]
    assert variables["AUTODEV_SCHEDULE_GROUP"] == "autodev-dev"
    assert "Fn::GetAtt" in variables["AUTODEV_SCHEDULER_ROLE_ARN"]


def test_the_health_check_reads_the_model_key_but_publishes_nothing(synth: Synth) -> None:
    health = _function(synth, "health")
    variables = synth.props(health)["Environment"]["Variables"]
    assert "ANTHROPIC_API_KEY_ARN" in variables
    actions = synth.role_actions(_role_of(synth, health))
    assert "events:PutEvents" not in actions
    assert "states:DescribeStateMachine" in actions
    assert not any(action.startswith("states:Start") for action in actions)


def test_the_state_machines_may_invoke_the_scheduled_run_registration(synth: Synth) -> None:
    registration = json.dumps({"Fn::GetAtt": [_function(synth, "scheduled_run"), "Arn"]})
    for logical_id, machine in synth.resources("AWS::StepFunctions::StateMachine").items():
        role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        invoked = [
            json.dumps(resource)
            for statement in synth.role_statements(role)
            if "lambda:InvokeFunction" in as_list(statement["Action"])
            for resource in as_list(statement["Resource"])
        ]
        assert any(registration in r for r in invoked), logical_id
