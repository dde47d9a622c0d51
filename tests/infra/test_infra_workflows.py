"""The Workflows construct on a made-up repository tree: what it grants and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from infra.settings import load_env_settings
from infra.workflows import DefinitionError, Workflows
from tests.infra.conftest import Context


def _tree(tmp_path: Path, definition: dict[str, Any] | str) -> Path:
    (tmp_path / "statemachines").mkdir()
    text = definition if isinstance(definition, str) else json.dumps(definition)
    (tmp_path / "statemachines" / "demo.asl.json").write_text(text)
    return tmp_path


def _build(root: Path, folders: list[str]) -> tuple[Stack, Workflows]:
    stack = Stack(App(), "Test")
    functions = {
        folder: lambda_.Function(
            stack,
            folder,
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context): return event"),
        )
        for folder in folders
    }
    bus = events.EventBus(stack, "Bus")
    workflows = Workflows(
        stack,
        "Workflows",
        settings=load_env_settings(Context()),
        functions=functions,
        bus=bus,
        root=root,
    )
    return stack, workflows


def _task(resource: str, **extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "End": True, **extra}


def test_numbers_become_json_numbers_and_arns_are_left_to_cloudformation(
    tmp_path: Path,
) -> None:
    root = _tree(
        tmp_path,
        {
            "StartAt": "Queue",
            "TimeoutSeconds": "${WorkflowTimeoutSeconds}",
            "States": {
                "Queue": _task(
                    "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    Parameters={"FunctionName": "${FooBarFunctionArn}"},
                    HeartbeatSeconds="${HeartbeatSeconds}",
                )
            },
        },
    )
    stack, workflows = _build(root, ["foo_bar", "unused"])
    rendered = json.loads(workflows.rendered["demo"])
    assert rendered["TimeoutSeconds"] == 172_800
    assert rendered["States"]["Queue"]["HeartbeatSeconds"] == 600
    assert rendered["States"]["Queue"]["Parameters"]["FunctionName"] == "${FooBarFunctionArn}"
    assert workflows.invoked["demo"] == ["foo_bar"]
    template = Template.from_stack(stack)
    machine = next(iter(template.find_resources("AWS::StepFunctions::StateMachine").values()))
    assert set(machine["Properties"]["DefinitionSubstitutions"]) == {"FooBarFunctionArn"}


def test_a_placeholder_infra_does_not_know_stops_the_synth(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": "${Mystery}", "End": True}}},
    )
    with pytest.raises(DefinitionError, match=r"demo.asl.json uses \$\{Mystery\}"):
        _build(root, [])


def test_a_function_without_a_handler_folder_stops_the_synth(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {"StartAt": "A", "States": {"A": _task("${MissingThingFunctionArn}")}},
    )
    with pytest.raises(DefinitionError, match=r"no functions/missing_thing/handler.py"):
        _build(root, [])


def test_an_integration_without_a_grant_stops_the_synth(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {"StartAt": "A", "States": {"A": _task("arn:aws:states:::sqs:sendMessage")}},
    )
    with pytest.raises(DefinitionError, match=r"sqs:sendMessage.*is not granted"):
        _build(root, [])
