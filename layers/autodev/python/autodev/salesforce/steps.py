"""The deterministic workflow steps: a Salesforce tool runs on the step's workspace, and what it
said becomes the step's result (``passed``, ``details`` and the tool's typed result).

A state machine's Choice after such a step reads ``passed`` and ``details``, which only this
module writes, from the tool's own output: no model is involved in the step at all.

Tools (a template step's ``"tool"``):

- ``code_analyzer``: Code Analyzer (PMD, regex) on the input's ``target`` when it is a path in
  the project, else on the whole project; ``passed`` is False when a violation is at or above
  the severity threshold (the input's ``severity_threshold``, else the step's option; none: it
  always passes).
- ``apex_tests``: ``sf apex run test`` with coverage on the input's org: the input's
  ``test_classes`` when it names some, else RunLocalTests.
- ``deploy_validate``: ``sf project deploy validate`` of the input's ``source`` with its
  ``test_level``; the result keeps the validation's ``job_id``.
- ``deploy_quick``: ``sf project deploy quick --job-id`` with the job id of the workflow's
  ``validate`` step (no second test run).

The ``sf`` tools log in to the input's ``target_org`` (a registered org, see
:mod:`autodev.salesforce.orgs`) in a config directory made for the step and removed after it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autodev.config import Settings
from autodev.errors import InvalidInput
from autodev.salesforce.analyzer import AnalyzerResult, Severity, run_code_analyzer
from autodev.salesforce.orgs import get_org, read_auth_url
from autodev.salesforce.sf import SfCli
from autodev.salesforce.sf_results import (
    ApexTestRun,
    ComponentError,
    DeployOutcome,
    FailedTest,
    QuickDeployOutcome,
)

TOOLS = ("code_analyzer", "apex_tests", "deploy_validate", "deploy_quick")
# How many findings, failures and component errors a result carries (the rest are counted).
TOP = 10


@dataclass
class ToolOutcome:
    """What a tool step answers: the gate (passed), one line, a report and the typed fields."""

    tool: str
    passed: bool
    details: str
    report: str
    fields: dict[str, Any] = field(default_factory=dict)

    def result_fields(self) -> dict[str, Any]:
        return {"tool": self.tool, "passed": self.passed, "details": self.details, **self.fields}


Status = Callable[[str], None]


def _severity_name(severity: int) -> str:
    return Severity(severity).name.capitalize()


def _target_paths(project: Path, target: Any) -> list[str] | None:
    """The input's target when it names a file or folder of the project, else None (all)."""
    if not isinstance(target, str) or not target.strip():
        return None
    candidate = (project / target.strip()).resolve()
    if candidate.is_relative_to(project.resolve()) and candidate.exists():
        return [target.strip()]
    return None


def _threshold(options: Mapping[str, Any], given: Mapping[str, Any]) -> int | None:
    value = given.get("severity_threshold", options.get("severity_threshold"))
    if value is None or value == "" or str(value).lower() == "none":
        return None
    return int(Severity.parse(value))


def analyzer_fields(result: AnalyzerResult, threshold: int | None) -> dict[str, Any]:
    counts = result.counts_by_severity()
    return {
        "total": result.output.violation_counts.total,
        "counts": {_severity_name(s): n for s, n in counts.items()},
        "threshold": None if threshold is None else _severity_name(threshold),
        "at_or_above_threshold": 0 if threshold is None else result.at_or_above(threshold),
        "findings": [
            {
                "rule": f.rule,
                "engine": f.engine,
                "severity": f.severity,
                "file": f.file,
                "line": f.line,
                "message": f.message,
            }
            for f in result.top_findings(TOP)
        ],
        "targets": result.targets,
        "engines": result.engines,
        "versions": result.output.versions,
        "java": result.java,
        "engine_errors": result.engine_errors[:5],
        "seconds": result.seconds,
    }


def code_analyzer_step(
    project: Path, options: Mapping[str, Any], given: Mapping[str, Any], settings: Settings
) -> ToolOutcome:
    threshold = _threshold(options, given)
    targets = _target_paths(project, given.get("target"))
    result = run_code_analyzer(
        project, targets=targets, timeout_seconds=settings.autodev_analyzer_timeout_seconds
    )
    fields = analyzer_fields(result, threshold)
    counts = ", ".join(f"{name} {n}" for name, n in fields["counts"].items())
    scope = ", ".join(targets) if targets else "the whole project"
    over = fields["at_or_above_threshold"]
    passed = threshold is None or over == 0
    if threshold is None:
        gate = "no severity threshold"
    else:
        gate = f"{over} at or above {fields['threshold']} (the threshold)"
    details = f"Code Analyzer on {scope}: {fields['total']} violation(s) ({counts}); {gate}"
    lines = [
        f"- {_severity_name(f['severity'])} {f['rule']} ({f['engine']}) "
        f"{f['file']}:{f['line']}: {f['message'].strip()}"
        for f in fields["findings"]
    ]
    report = "\n".join([f"**{details}**", *lines]) if lines else details
    return ToolOutcome("code_analyzer", passed, details, report, fields)


@contextmanager
def org_session(org_name: str, settings: Settings, scratch: Path) -> Iterator[SfCli]:
    """``sf`` logged in to the registered org, in a config directory only this step uses."""
    if not org_name:
        raise InvalidInput("the step needs a target_org in the workflow's input")
    org = get_org(org_name)
    config_dir = Path(tempfile.mkdtemp(prefix="sf-config-", dir=scratch))
    config_dir.chmod(0o700)
    try:
        cli = SfCli(config_dir=config_dir, executable=settings.autodev_sf_cli)
        cli.login_sfdx_url(read_auth_url(org), alias=org.name)
        yield cli
    finally:
        shutil.rmtree(config_dir, ignore_errors=True)


def _failure_json(failure: FailedTest) -> dict[str, Any]:
    return {
        "test": failure.title(),
        "message": failure.message,
        "stack_trace": failure.stack_trace[:1000],
    }


def _component_json(error: ComponentError) -> dict[str, Any]:
    return {
        "component": error.name,
        "type": error.type,
        "problem_type": error.problem_type,
        "problem": error.message,
        "file": error.file,
        "line": error.line,
        "column": error.column,
        "where": error.where(),
    }


def test_run_fields(run: ApexTestRun) -> dict[str, Any]:
    return {
        "outcome": run.outcome,
        "tests_ran": run.tests_ran,
        "passing": run.passing,
        "failing": run.failing,
        "skipped": run.skipped,
        "pass_rate": run.pass_rate,
        "test_run_id": run.test_run_id,
        "test_run_coverage": run.test_run_coverage,
        "org_wide_coverage": run.org_wide_coverage,
        "coverage": [
            {"class": c.name, "percent": c.covered_percent, "lines": c.total_lines}
            for c in run.coverage[:20]
        ],
        "failures": [_failure_json(f) for f in run.failures[:TOP]],
    }


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def _test_classes(given: Mapping[str, Any]) -> list[str]:
    """The input's ``test_classes`` ("A, B" or a list), in order and without repeats."""
    value = given.get("test_classes")
    names = value.split(",") if isinstance(value, str) else value or []
    if not isinstance(names, list):
        raise InvalidInput("test_classes must be Apex class names, comma-separated")
    return list(dict.fromkeys(str(name).strip() for name in names if str(name).strip()))


def apex_tests_step(project: Path, cli: SfCli, org: str, given: Mapping[str, Any]) -> ToolOutcome:
    classes = _test_classes(given)
    run = cli.run_apex_tests(org, project, class_names=classes)
    fields = {**test_run_fields(run), "test_classes": classes or None}
    scope = ", ".join(classes) if classes else "local tests"
    details = (
        f"Apex tests ({scope}) on {org}: {run.passing} of {run.tests_ran} passed "
        f"({_percent(run.pass_rate)}), coverage {_percent(run.test_run_coverage)}"
    )
    if run.failures:
        details += "; failing: " + "; ".join(
            f"{f.title()} - {' '.join(f.message.split())}" for f in run.failures[:3]
        )
    lines = [f"- {f.title()}: {' '.join(f.message.split())}" for f in run.failures[:TOP]]
    return ToolOutcome("apex_tests", run.passed, details, "\n".join([details, *lines]), fields)


def _deploy_fields(outcome: DeployOutcome) -> dict[str, Any]:
    return {
        "job_id": outcome.job_id,
        "status": outcome.status,
        "components_total": outcome.components_total,
        "components_deployed": outcome.components_deployed,
        "component_errors": [_component_json(e) for e in outcome.component_errors[:20]],
        "tests_run": outcome.tests_run,
        "test_failures": [_failure_json(f) for f in outcome.test_failures[:TOP]],
        "coverage_warnings": outcome.coverage_warnings[:5],
    }


def _problems(outcome: DeployOutcome) -> str:
    parts = [f"{e.where()} {e.name}: {e.message}" for e in outcome.component_errors[:5]]
    parts += [f"{f.title()} - {' '.join(f.message.split())}" for f in outcome.test_failures[:3]]
    parts += outcome.coverage_warnings[:2]
    if not parts and outcome.message:
        parts.append(" ".join(outcome.message.split())[:300])
    return "; ".join(parts)


def deploy_validate_step(
    project: Path, cli: SfCli, org: str, given: Mapping[str, Any]
) -> ToolOutcome:
    source = str(given.get("source") or "force-app")
    level = str(given.get("test_level") or "RunLocalTests")
    outcome = cli.validate_deploy(org, project, source_dirs=(source,), test_level=level)
    fields = _deploy_fields(outcome)
    if outcome.succeeded:
        details = (
            f"Validation {outcome.job_id} of {source} on {org} succeeded: "
            f"{outcome.components_total} component(s), {outcome.tests_run} test(s) run"
        )
    else:
        failed = ", ".join(e.name for e in outcome.component_errors[:10]) or "none"
        details = (
            f"Validation {outcome.job_id} of {source} on {org} failed "
            f"(components failed: {failed}): {_problems(outcome)}"
        )
    lines = [f"- {e.where()} {e.name}: {e.message}" for e in outcome.component_errors[:20]]
    return ToolOutcome(
        "deploy_validate", outcome.succeeded, details, "\n".join([details, *lines]), fields
    )


def deploy_quick_step(project: Path, cli: SfCli, org: str, steps: Mapping[str, Any]) -> ToolOutcome:
    validation = steps.get("validate") if isinstance(steps, Mapping) else None
    job_id = validation.get("job_id") if isinstance(validation, Mapping) else None
    if not isinstance(job_id, str) or not job_id:
        raise InvalidInput("a quick deploy needs the job id of the workflow's validation step")
    outcome: QuickDeployOutcome = cli.quick_deploy(org, project, job_id)
    fields: dict[str, Any] = {
        "validation_job_id": job_id,
        "refused": outcome.refused,
        "refusal": outcome.refusal,
    }
    if outcome.deploy is not None:
        fields.update(_deploy_fields(outcome.deploy))
    if outcome.refused:
        details = f"Quick deploy of validation {job_id} to {org} was refused: {outcome.refusal}"
    elif outcome.succeeded and outcome.deploy is not None:
        details = (
            f"Deployed validation {job_id} to {org} as {outcome.deploy.job_id}: "
            f"{outcome.deploy.components_deployed} component(s), no tests run again"
        )
    else:
        assert outcome.deploy is not None
        details = (
            f"Quick deploy of validation {job_id} to {org} failed: {_problems(outcome.deploy)}"
        )
    return ToolOutcome("deploy_quick", outcome.succeeded, details, details, fields)


def run_tool(
    tool: str,
    options: Mapping[str, Any],
    given: Mapping[str, Any],
    steps: Mapping[str, Any],
    project: Path,
    settings: Settings,
    scratch: Path,
) -> ToolOutcome:
    """Run ``tool`` on ``project`` for a step whose workflow input is ``given``."""
    if tool == "code_analyzer":
        return code_analyzer_step(project, options, given, settings)
    if tool not in TOOLS:
        raise InvalidInput(f"no tool {tool!r}; the tools are {', '.join(TOOLS)}")
    org = str(given.get(str(options.get("org_input", "target_org"))) or "")
    with org_session(org, settings, scratch) as cli:
        if tool == "apex_tests":
            return apex_tests_step(project, cli, org, given)
        if tool == "deploy_validate":
            return deploy_validate_step(project, cli, org, given)
        return deploy_quick_step(project, cli, org, steps)
