"""Typed results of the ``sf`` steps, read from the JSON the CLI prints with ``--json``.

Shapes (from the CLI's own sources, see :mod:`autodev.salesforce.sf`):

- ``sf apex run test``: plugin-apex ``src/reporters/jsonReporter.ts`` ``RunResult``:
  ``summary`` (outcome, testsRan, passing, failing, skipped, passRate "75%", testRunId,
  testRunCoverage, orgWideCoverage), ``tests[]`` (ApexClass.Name, MethodName, Outcome, Message,
  StackTrace), ``coverage.coverage[]`` (name, totalLines, totalCovered, coveredPercent).
- ``sf project deploy validate|quick``: plugin-deploy-retrieve ``DeployResultJson`` =
  source-deploy-retrieve ``MetadataApiDeployStatus`` (id, status, success, checkOnly, number*,
  ``details.componentFailures``, ``details.runTestResult``) plus ``files``. A failed validation
  is an error, ``FailedValidationError`` with ``data.deployId``, whose message lists the
  component errors as ``<problemType> in <fullName> - <problem> (<line>:<column>)`` and the test
  failures as ``<class>.<method> - <message>``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*$")
_COMPONENT_LINE = re.compile(
    r"^(?P<kind>Error|Warning) in (?P<name>\S+) - (?P<error>.*?)"
    r"(?: \((?P<line>\d+):(?P<column>\d*)\))?$"
)


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)


def percent(value: Any) -> float | None:
    """``"75%"`` (or 75) as 0.75."""
    if value is None:
        return None
    match = _PERCENT.match(str(value))
    return float(match.group(1)) / 100 if match else None


def as_list(value: Any) -> list[Any]:
    """The Metadata API gives one item as an object and several as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class FailedTest(_Result):
    class_name: str
    method: str
    message: str
    stack_trace: str

    def title(self) -> str:
        return f"{self.class_name}.{self.method}"


class ClassCoverage(_Result):
    name: str
    covered_lines: int
    total_lines: int
    covered_percent: float


class ApexTestRun(_Result):
    outcome: str
    tests_ran: int
    passing: int
    failing: int
    skipped: int
    pass_rate: float
    test_run_id: str
    test_run_coverage: float | None
    org_wide_coverage: float | None
    coverage: list[ClassCoverage]
    failures: list[FailedTest]

    @property
    def passed(self) -> bool:
        return self.outcome == "Passed" and self.failing == 0

    @classmethod
    def from_json(cls, result: dict[str, Any]) -> ApexTestRun:
        summary = result["summary"]
        failures = [
            FailedTest(
                class_name=test["ApexClass"]["Name"],
                method=test["MethodName"],
                message=test.get("Message") or "",
                stack_trace=test.get("StackTrace") or "",
            )
            for test in result.get("tests", [])
            if test.get("Outcome") in {"Fail", "CompileFail"}
        ]
        coverage = [
            ClassCoverage(
                name=item["name"],
                covered_lines=int(item.get("totalCovered", 0)),
                total_lines=int(item.get("totalLines", 0)),
                covered_percent=float(item.get("coveredPercent", 0)),
            )
            for item in (result.get("coverage") or {}).get("coverage", [])
        ]
        return cls(
            outcome=summary["outcome"],
            tests_ran=int(summary["testsRan"]),
            passing=int(summary["passing"]),
            failing=int(summary["failing"]),
            skipped=int(summary.get("skipped", 0)),
            pass_rate=percent(summary.get("passRate")) or 0.0,
            test_run_id=summary["testRunId"],
            test_run_coverage=percent(summary.get("testRunCoverage")),
            org_wide_coverage=percent(summary.get("orgWideCoverage")),
            coverage=coverage,
            failures=failures,
        )


class ComponentError(_Result):
    name: str
    type: str | None
    problem_type: str
    message: str
    file: str | None
    line: int | None
    column: int | None

    def where(self) -> str:
        location = self.file or self.name
        return f"{location}:{self.line}" if self.line is not None else location


def _component_errors_from_details(details: dict[str, Any]) -> list[ComponentError]:
    errors = []
    for failure in as_list(details.get("componentFailures")):
        line, column = failure.get("lineNumber"), failure.get("columnNumber")
        errors.append(
            ComponentError(
                name=failure.get("fullName", ""),
                type=failure.get("componentType"),
                problem_type=failure.get("problemType") or "Error",
                message=failure.get("problem", ""),
                file=failure.get("fileName"),
                line=int(line) if line else None,
                column=int(column) if column else None,
            )
        )
    return errors


def component_errors_from_message(message: str) -> list[ComponentError]:
    """The component lines of a FailedValidationError's message (validate.ts builds them)."""
    errors = []
    for line in message.splitlines():
        match = _COMPONENT_LINE.match(line.strip())
        if match:
            errors.append(
                ComponentError(
                    name=match["name"],
                    type=None,
                    problem_type=match["kind"],
                    message=match["error"],
                    file=None,
                    line=int(match["line"]) if match["line"] else None,
                    column=int(match["column"]) if match["column"] else None,
                )
            )
    return errors


_TEST_LINE = re.compile(r"^(?P<cls>\w+)\.(?P<method>\w+) - (?P<message>.+)$")


def failed_tests_from_message(message: str) -> list[FailedTest]:
    failures = []
    for line in message.splitlines():
        match = _TEST_LINE.match(line.strip())
        if match and not _COMPONENT_LINE.match(line.strip()):
            failures.append(
                FailedTest(
                    class_name=match["cls"],
                    method=match["method"],
                    message=match["message"],
                    stack_trace="",
                )
            )
    return failures


class DeployOutcome(_Result):
    """A deploy validation or a quick deploy, as the Metadata API finished it."""

    job_id: str
    status: str
    succeeded: bool
    check_only: bool
    components_total: int
    components_deployed: int
    component_errors: list[ComponentError]
    tests_run: int
    test_failures: list[FailedTest]
    coverage_warnings: list[str]
    message: str | None = None

    @classmethod
    def from_json(cls, result: dict[str, Any]) -> DeployOutcome:
        details = result.get("details") or {}
        run = details.get("runTestResult") or {}
        return cls(
            job_id=result["id"],
            status=result["status"],
            succeeded=bool(result.get("success")) and result["status"] == "Succeeded",
            check_only=bool(result.get("checkOnly")),
            components_total=int(result.get("numberComponentsTotal", 0)),
            components_deployed=int(result.get("numberComponentsDeployed", 0)),
            component_errors=_component_errors_from_details(details),
            tests_run=int(run.get("numTestsRun") or result.get("numberTestsCompleted") or 0),
            test_failures=[
                FailedTest(
                    class_name=f.get("name", ""),
                    method=f.get("methodName", ""),
                    message=f.get("message", ""),
                    stack_trace=f.get("stackTrace", ""),
                )
                for f in as_list(run.get("failures"))
            ],
            coverage_warnings=[
                w.get("message", "") for w in as_list(run.get("codeCoverageWarnings"))
            ],
        )

    @classmethod
    def failed_validation(cls, job_id: str, message: str) -> DeployOutcome:
        warnings = [line for line in message.splitlines() if "test coverage" in line]
        return cls(
            job_id=job_id,
            status="Failed",
            succeeded=False,
            check_only=True,
            components_total=0,
            components_deployed=0,
            component_errors=component_errors_from_message(message),
            tests_run=0,
            test_failures=failed_tests_from_message(message),
            coverage_warnings=warnings,
            message=message,
        )


class QuickDeployOutcome(_Result):
    """``sf project deploy quick``: deployed, failed, or refused (the validation is unusable)."""

    validation_job_id: str
    deploy: DeployOutcome | None
    refused: bool
    refusal: str | None

    @property
    def succeeded(self) -> bool:
        return self.deploy is not None and self.deploy.succeeded


class OrgLogin(_Result):
    """What the step may show of a login: never a token, never the auth URL."""

    alias: str
    username: str
    org_id: str
    instance_url: str
