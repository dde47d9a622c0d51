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
