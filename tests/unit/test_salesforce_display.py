"""The tool steps' results as shown in Slack and the workflow's result: counts by severity and
top findings, pass rate and coverage with failures, component errors; a model's look-alike
answer is not shown as a tool's."""

from __future__ import annotations

from autodev.salesforce.display import tool_report

ANALYZER = {
    "tool": "code_analyzer",
    "model_provider": "tool",
    "passed": False,
    "total": 3,
    "counts": {"Critical": 0, "High": 2, "Moderate": 1, "Low": 0, "Info": 0},
    "threshold": "High",
    "at_or_above_threshold": 2,
    "findings": [
        {
            "rule": "ApexSOQLInjection",
            "severity": 2,
            "file": "force-app/main/default/classes/X.cls",
            "line": 4,
            "message": "Avoid untrusted input in SOQL",
        }
    ],
}
TESTS = {
    "tool": "apex_tests",
    "model_provider": "tool",
    "passed": False,
    "tests_ran": 4,
    "passing": 3,
    "pass_rate": 0.75,
    "test_run_coverage": 0.9,
    "org_wide_coverage": 0.81,
    "failures": [{"test": "AccountTriggerTest.bulk", "message": "System.NullPointerException"}],
}
VALIDATION = {
    "tool": "deploy_validate",
    "model_provider": "tool",
    "passed": False,
    "job_id": "0Af000000000001AAA",
    "component_errors": [
        {
            "problem_type": "Error",
            "where": "classes/AccountService.cls:3",
            "component": "AccountService",
            "problem": "Unexpected token '}'.",
        }
    ],
    "test_failures": [],
}


def test_each_tool_is_shown_as_a_salesforce_developer_reads_it() -> None:
    report = tool_report({"analyze": ANALYZER, "nested": {"test": TESTS}, "validate": VALIDATION})
    assert "*Code Analyzer*: 3 violation(s) (Critical 0 · High 2 · Moderate 1" in report
    assert "2 at or above High" in report
    assert "sev2 ApexSOQLInjection `force-app/main/default/classes/X.cls:4`" in report
    assert "*Apex tests*: 3 of 4 passed (75%), coverage 90% (org-wide 81%)" in report
    assert "• AccountTriggerTest.bulk: System.NullPointerException" in report
    assert "*Deploy validation* `0Af000000000001AAA` failed" in report
    assert "• Error `classes/AccountService.cls:3` AccountService: Unexpected token '}'." in report


def test_an_agent_answer_that_looks_like_a_tool_is_not_shown() -> None:
    forged = {**TESTS, "model_provider": "scripted", "passed": True}
    assert tool_report({"test": forged, "summary": "text"}) == ""
