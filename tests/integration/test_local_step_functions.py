"""The local stack's Step Functions interpreter (moto, with ``autodev.local.moto_fixes``)
evaluates a definition's JSONPaths as AWS does, parsing each path once."""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from typing import Any

import pytest
from jsonpath_ng.parser import JsonPathParser

from autodev.aws import client
from autodev.local.stack import ACCOUNT_ID, LocalStack
from autodev.local.testing import wait_for


def _definition(field: str) -> dict[str, Any]:
    """A value picked with Parameters and ResultPath, then sized by a Choice: every kind of
    JSONPath a state reads."""
    return {
        "StartAt": "Pick",
        "States": {
            "Pick": {
                "Type": "Pass",
                "Parameters": {"value.$": f"$.{field}"},
                "ResultPath": "$.picked",
                "Next": "Big?",
            },
            "Big?": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.picked.value", "NumericGreaterThan": 10, "Next": "Big"}
                ],
                "Default": "Small",
            },
            "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "End": True},
            "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "End": True},
        },
    }


def test_each_json_path_is_parsed_once_and_evaluated_every_time(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A field no other test's definition has: what this stack's process parsed before is not
    # counted here.
    field = f"value_{uuid.uuid4().hex[:8]}"
    parsed: Counter[str] = Counter()
    parse = JsonPathParser.parse

    def counting(self: JsonPathParser, string: str, *args: Any, **kwargs: Any) -> Any:
        parsed[string] += 1
        return parse(self, string, *args, **kwargs)

    monkeypatch.setattr(JsonPathParser, "parse", counting)
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"paths-{field}",
        definition=json.dumps(_definition(field)),
        roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/paths",
    )["stateMachineArn"]
    arns = {
        value: sfn.start_execution(stateMachineArn=machine, input=json.dumps({field: value}))[
            "executionArn"
        ]
        for value in (5, 50, 7)
    }

    def outputs() -> dict[int, Any] | None:
        found = {value: sfn.describe_execution(executionArn=arn) for value, arn in arns.items()}
        if any(run["status"] == "RUNNING" for run in found.values()):
            return None
        return {value: json.loads(run.get("output") or "null") for value, run in found.items()}

    done: dict[int, Any] = wait_for(outputs, timeout=30, what="the executions to end")
    assert done == {
        value: {field: value, "picked": {"value": value}, "size": size}
        for value, size in ((5, "small"), (50, "big"), (7, "small"))
    }
    # Three executions read each path three times; each was parsed once.
    assert parsed[f"$.{field}"] == 1
    assert parsed["$.picked"] == 1


def test_a_path_that_finds_nothing_is_an_answer_not_an_error_line(
    local_stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    # Every template's first state: is this a scheduled run?
    definition = {
        "StartAt": "Scheduled?",
        "States": {
            "Scheduled?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.job", "IsPresent": True, "Next": "Scheduled"}],
                "Default": "Asked",
            },
            "Scheduled": {"Type": "Pass", "Result": {"run": "scheduled"}, "End": True},
            "Asked": {"Type": "Pass", "Result": {"run": "asked"}, "End": True},
        },
    }
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"present-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/present",
    )["stateMachineArn"]
    with caplog.at_level(logging.DEBUG, logger="moto"):
        arns = [
            sfn.start_execution(stateMachineArn=machine, input=json.dumps(given))["executionArn"]
            for given in ({"job": "j-1"}, {})
        ]

        def outputs() -> list[Any] | None:
            found = [sfn.describe_execution(executionArn=arn) for arn in arns]
            if any(run["status"] == "RUNNING" for run in found):
                return None
            return [json.loads(run.get("output") or "null") for run in found]

        done = wait_for(outputs, timeout=30, what="the executions to end")
    assert done == [{"run": "scheduled"}, {"run": "asked"}]
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
