"""One synth of the real CDK app per test session (synth is slow on two cores).

Asset bundling is skipped (``aws:cdk:bundling-stacks: []``), so the dependency layer is not
downloaded and no Docker is needed; everything else is the real synth path: the same
``build_app`` that ``cdk synth`` runs, cdk-nag's checks included. A synth that fails its
validation still writes the template, so tests read the files and the validation report from
the output directory and report the failure themselves.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


@dataclass(frozen=True)
class Synth:
    outdir: Path
    stack_name: str
    template: dict[str, Any]
    report: dict[str, Any]
    error: str | None

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == kind
        }

    def props(self, logical_id: str) -> dict[str, Any]:
        properties: dict[str, Any] = self.template["Resources"][logical_id].get("Properties", {})
        return properties

    def role_statements(self, role_logical_id: str) -> list[dict[str, Any]]:
        """Every statement of the IAM policies attached to one role."""
        return [
            statement
            for policy in self.resources("AWS::IAM::Policy").values()
            if {"Ref": role_logical_id} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]

    def role_actions(self, role_logical_id: str) -> set[str]:
        return {
            action
            for statement in self.role_statements(role_logical_id)
            for action in as_list(statement["Action"])
        }

    def nag_violations(self) -> list[str]:
        """One line per cdk-nag violation in the validation report, naming where it is."""
        return [
            f"{violation['ruleName']} at "
            + (
                ", ".join(c["constructPath"] for c in violation.get("violatingConstructs", []))
                or "(no construct named)"
            )
            for plugin in self.report.get("pluginReports", [])
            for violation in plugin["violations"]
        ]

    def cfn_lint_matches(self) -> list[str]:
        from cfnlint.api import ManualArgs, lint  # type: ignore[import-untyped]

        matches = lint(
            json.dumps(self.template),
            config=ManualArgs(
                regions=["us-east-1"],
                # W3005: CDK adds DependsOn on a role that a GetAtt already orders; harmless.
                ignore_checks=["W3005"],
            ),
        )
        return [str(match) for match in matches]


def as_list(value: Any) -> list[Any]:
    """IAM's Action and Resource: one value or a list of them."""
    return value if isinstance(value, list) else [value]


class Context:
    """Stands in for a construct node's CDK context (``try_get_context``)."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self._values = values or {}

    def try_get_context(self, key: str) -> Any:
        return self._values.get(key)


def synthesize(outdir: Path, context: dict[str, Any] | None = None) -> Synth:
    for variable in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"):
        os.environ.pop(variable, None)
    from aws_cdk import App

    from infra.app import build_app

    app = App(
        outdir=str(outdir),
        context={
            "aws:cdk:bundling-stacks": [],
            "aws:cdk:enable-asset-metadata": True,
            "@aws-cdk/core:validationReportJson": True,
            **json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"],
            **(context or {}),
        },
    )
    _, stack = build_app(app)
    error = None
    try:
        app.synth()
    except RuntimeError as failure:  # validation errors: the report says which
        error = str(failure).splitlines()[0]
    template = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    report_path = outdir / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return Synth(outdir, stack.stack_name, template, report, error)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))
