"""Reading the CLI's JSON into typed results, and the analyzer's gate, on the CLI's own fixtures."""

from __future__ import annotations

from typing import Any

import pytest

from autodev.errors import InvalidInput
from autodev.salesforce.analyzer import AnalyzerResult, CodeAnalyzerOutput, Severity
from autodev.salesforce.sf_results import ApexTestRun, DeployOutcome, percent

# plugin-apex test/testData.ts testRunWithFailuresResult (the JSON reporter's output)
RUN_WITH_FAILURES: dict[str, Any] = {
    "summary": {
        "commandTime": "60 ms",
        "failRate": "50%",
        "failing": 1,
        "hostname": "https://na139.salesforce.com",
        "orgId": "00D4xx00000FH4IEAW",
        "outcome": "Failed",
        "passRate": "50%",
        "passing": 1,
        "skipped": 0,
        "testExecutionTime": "53 ms",
        "testRunId": "707xx0000AUS2gH",
        "testStartTime": "2020-08-25T00:48:02.000+0000",
        "testTotalTime": "53 ms",
        "testsRan": 2,
        "userId": "005xx000000uEgSAAU",
        "username": "test@example.com",
    },
    "tests": [
        {
            "ApexClass": {
                "Id": "01pxx00000NWwb3AAD",
                "Name": "MyApexTests",
                "NamespacePrefix": None,
            },
            "AsyncApexJobId": "707xx0000AUS2gHQQT",
            "FullName": "MyApexTests.testConfig",
            "Id": "07Mxx00000ErgiHUAR",
            "Message": None,
            "MethodName": "testConfig",
            "Outcome": "Fail",
            "QueueItemId": "709xx000001IlUMQA0",
            "RunTime": 53,
            "StackTrace": "Error running test",
        }
    ],
}


def test_apex_run_with_failures_from_the_plugin_fixture() -> None:
    run = ApexTestRun.from_json(RUN_WITH_FAILURES)
    assert not run.passed
    assert (run.tests_ran, run.passing, run.failing, run.pass_rate) == (2, 1, 1, 0.5)
    assert run.test_run_coverage is None
    [failure] = run.failures
    assert failure.title() == "MyApexTests.testConfig"
    assert failure.message == ""
    assert failure.stack_trace == "Error running test"


def test_coverage_from_the_json_reporter_shape() -> None:
    with_coverage = {
        **RUN_WITH_FAILURES,
        "coverage": {
            "coverage": [
                {
                    "id": "01pxx00000NWwb3AAF",
                    "name": "testClass",
                    "totalLines": 5,
                    "lines": {"1": 1, "2": 0},
                    "totalCovered": 1,
                    "coveredPercent": 20,
                }
            ],
            "records": [],
            "summary": {"testRunCoverage": "80%", "orgWideCoverage": "50%"},
        },
    }
    with_coverage["summary"] = {**RUN_WITH_FAILURES["summary"], "testRunCoverage": "80%"}
    run = ApexTestRun.from_json(with_coverage)
    assert run.test_run_coverage == 0.8
    [coverage] = run.coverage
    assert (coverage.name, coverage.covered_lines, coverage.total_lines) == ("testClass", 1, 5)
    assert coverage.covered_percent == 20


def test_a_failed_validation_message_as_validate_ts_builds_it() -> None:
    message = (
        "Failed to validate the deployment (0Af000000000001AAA). Due To:\n"
        "Average test coverage across all Apex Classes and Triggers is 60%, at least 75% test "
        "coverage is required.\n"
        "Error in AccountService - Unexpected token '}'. (12:5)\n"
        "Error in Broken - Variable does not exist: x\n"
        "\n2 component error(s)\n"
        "FooTest.bar - System.AssertException: Assertion Failed"
    )
    outcome = DeployOutcome.failed_validation("0Af000000000001AAA", message)
    assert not outcome.succeeded
    errors = {e.name: e for e in outcome.component_errors}
    assert errors["AccountService"].message == "Unexpected token '}'."
    assert (errors["AccountService"].line, errors["AccountService"].column) == (12, 5)
    assert errors["Broken"].line is None
    assert [f.title() for f in outcome.test_failures] == ["FooTest.bar"]
    assert len(outcome.coverage_warnings) == 1


def test_a_deploy_status_with_single_items_not_lists() -> None:
    # The Metadata API gives one failure as an object, several as a list (SDR types.ts).
    status = {
        "id": "0Af000000000002AAA",
        "status": "Failed",
        "success": False,
        "checkOnly": True,
        "numberComponentsTotal": 3,
        "numberComponentsDeployed": 2,
        "details": {
            "componentFailures": {
                "componentType": "ApexClass",
                "fullName": "Broken",
                "fileName": "classes/Broken.cls",
                "lineNumber": "3",
                "columnNumber": "9",
                "problem": "Missing ';' at '}'",
                "problemType": "Error",
            },
            "runTestResult": {"numTestsRun": "0", "numFailures": "0", "totalTime": "0"},
        },
    }
    outcome = DeployOutcome.from_json(status)
    [error] = outcome.component_errors
    assert (error.type, error.where(), error.column) == ("ApexClass", "classes/Broken.cls:3", 9)


def test_percent() -> None:
    assert percent("75%") == 0.75
    assert percent(100) == 1.0
    assert percent(None) is None
    assert percent("n/a") is None


def _analysis(severities: list[int]) -> AnalyzerResult:
    counts = {f"sev{s}": severities.count(s) for s in range(1, 6)}
    output = CodeAnalyzerOutput.model_validate(
        {
            "runDir": "/p/",
            "violationCounts": {"total": len(severities), **counts},
            "versions": {"code-analyzer": "0"},
            "violations": [
                {
                    "rule": f"Rule{i}",
                    "engine": "pmd",
                    "severity": s,
                    "primaryLocationIndex": 0,
                    "locations": [{"file": f"f{i}.cls", "startLine": i + 1}],
                    "message": "m",
                }
                for i, s in enumerate(severities)
            ],
        }
    )
    return AnalyzerResult(
        output=output,
        config_file=None,
        engines=["pmd"],
        disabled_engines=[],
        targets=None,
        java="Java 17",
        seconds=1.0,
    )


def test_the_severity_gate_counts_at_and_above_the_threshold() -> None:
    result = _analysis([3, 4, 4, 5])
    assert result.passes("High")
    assert result.passes(2)
    assert not result.passes("Moderate")
    assert result.at_or_above("low") == 3
    assert [f.severity for f in result.top_findings(2)] == [3, 4]
    assert result.top_findings(1)[0].where() == "f0.cls:1"
    with pytest.raises(InvalidInput, match="severity"):
        result.passes("urgent")
    assert Severity.parse("5") is Severity.INFO
