"""The Salesforce tool steps on the whole local stack: worker processes started by the scaler,
Code Analyzer's real engines, the stand-in ``sf`` with a registered org whose auth URL is in
(moto's) Secrets Manager, and the real Claude Code CLI on the scripted model for agent steps."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from autodev.callbacks import get_result
from autodev.callbacks.models import CachedResult
from autodev.config import get_settings
from autodev.db import connection
from autodev.local import LocalStack, orchestrator
from autodev.local import salesforce as local_salesforce
from autodev.local.model import service as scripted_model
from autodev.local.testing import wait_for, wait_until_finished
from autodev.orchestrator.workspace import REPO_ROOT
from autodev.workflows import StartRequest, pending_approvals, respond_to_approval, start_workflow

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("node") is None, reason="Code Analyzer needs Node.js"),
]

CLASSES = Path("force-app/main/default/classes")
TRIGGER = Path("force-app/main/default/triggers/AccountTrigger.trigger")
APPROVER = "UAPPROVER9"
# A class no script has seen, named afresh on every run: SOQL built from input on line 4.
NEW_CLASS = """\
public with sharing class {name} {{
    public static List<Account> byName(String name) {{
        String soql = 'SELECT Id FROM Account WHERE Name = \\'' + name + '\\'';
        return Database.query(soql);
    }}
}}
"""
META = """<?xml version="1.0" encoding="UTF-8"?>
<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">
    <apiVersion>61.0</apiVersion>
    <status>Active</status>
</ApexClass>
"""
BULKIFIED_TRIGGER = """\
trigger AccountTrigger on Account (after insert) {
    Set<Id> withContacts = new Set<Id>();
    for (Contact c : [SELECT AccountId FROM Contact WHERE AccountId IN :Trigger.newMap.keySet()]) {
        withContacts.add(c.AccountId);
    }
    List<Contact> primaries = new List<Contact>();
    for (Account acc : Trigger.new) {
        if (!withContacts.contains(acc.Id) && acc.Industry == 'Technology') {
            primaries.add(new Contact(LastName = acc.Name + ' Primary', AccountId = acc.Id));
        }
    }
    insert primaries;
}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "examples", copy)
    monkeypatch.setenv("AUTODEV_SFDX_REPO", str(copy))
    return copy


@pytest.fixture
def stack(database: str, project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    monkeypatch.setenv("AUTODEV_MODEL_PROVIDER", "scripted")
    monkeypatch.setenv("ORCHESTRATOR_IDLE_TIMEOUT", "5000")
    monkeypatch.setenv("APPROVERS", APPROVER)
    get_settings.cache_clear()
    services = [scripted_model.SERVICE, local_salesforce.SERVICE, orchestrator.SERVICE]
    with LocalStack(services=services) as running:
        yield running
    get_settings.cache_clear()


def _sf(stack: LocalStack) -> local_salesforce.LocalSalesforce:
    running = stack.service("salesforce")
    assert isinstance(running, local_salesforce.LocalSalesforce)
    return running


def _tool_tasks(workflow_id: str) -> list[dict[str, object]]:
    with connection() as conn:
        return conn.execute(
            "SELECT step_name, status, model_provider, result FROM autonomous_tasks "
            "WHERE workflow_id = %s AND context ? 'tool' ORDER BY created_at",
            (workflow_id,),
        ).fetchall()


def _stages_shown(workflow_id: str) -> dict[str, list[str]]:
    """Each step's progress stages, once every task's progress is final (the worker writes it
    in its background lane, which may finish after the workflow)."""

    def final() -> dict[str, list[str]] | None:
        with connection() as conn:
            rows = conn.execute(
                "SELECT t.step_name, p.stages, p.status FROM autonomous_tasks t"
                " LEFT JOIN progress_tracking p ON p.id = t.id::text"
                " WHERE t.workflow_id = %s",
                (workflow_id,),
            ).fetchall()
        if any(row["status"] not in ("completed", "failed") for row in rows):
            return None
        return {row["step_name"]: [stage["name"] for stage in row["stages"]] for row in rows}

    shown: dict[str, list[str]] = wait_for(final, timeout=60, what="the steps' final progress")
    return shown


def _prompts(workflow_id: str, step_name: str) -> list[str]:
    """The prompts the step's tasks were given, oldest first."""
    with connection() as conn:
        rows = conn.execute(
            "SELECT prompt FROM autonomous_tasks WHERE workflow_id = %s AND step_name = %s "
            "ORDER BY created_at",
            (workflow_id, step_name),
        ).fetchall()
    return [str(row["prompt"]) for row in rows]


def test_code_review_reports_a_new_defect_with_the_analyzers_rule_file_and_line(
    stack: LocalStack, project: Path
) -> None:
    name = f"Exporter{uuid.uuid4().hex[:8].upper()}"
    (project / CLASSES / f"{name}.cls").write_text(NEW_CLASS.format(name=name))
    (project / CLASSES / f"{name}.cls-meta.xml").write_text(META)
    file = f"{CLASSES.as_posix()}/{name}.cls"

    started = start_workflow(StartRequest("code-review", {"target": "force-app"}, "U1"))
    status = wait_until_finished(started.id, timeout=300)
    assert status.status == "succeeded", (status.error, status.cause)

    analyzer = status.output["steps"]["analyze"]
    assert analyzer["tool"] == "code_analyzer"
    assert analyzer["passed"] is True  # nothing Critical; the template's threshold is 1
    found = {(f["rule"], f["file"], f["line"]) for f in analyzer["findings"]}
    assert ("ApexSOQLInjection", file, 4) in found
    assert analyzer["counts"]["High"] >= 1
    [task] = _tool_tasks(started.id)
    assert task["model_provider"] == "tool"  # no model took part in the step
    # The reviews were given the analyzer's findings.
    [prompt] = _prompts(started.id, "Security review")
    assert file in prompt

    # The workflow's result (what Slack and the callbacks show) says it as the analyzer did.
    cached = get_result(started.id)
    assert isinstance(cached, CachedResult)
    summary = cached.result["summary"]
    assert "*Code Analyzer*:" in summary
    assert f"ApexSOQLInjection `{file}:4`" in summary

    # A stricter threshold (High) fails the workflow on what the analyzer said, before any review.
    strict = start_workflow(
        StartRequest("code-review", {"target": file, "severity_threshold": "High"}, "U1")
    )
    failed = wait_until_finished(strict.id, timeout=300)
    assert failed.status == "failed"
    assert failed.error == "AnalyzerThresholdExceeded"
    assert failed.cause is not None
    assert "at or above High" in failed.cause
    with connection() as conn:
        steps = conn.execute(
            "SELECT step_name FROM autonomous_tasks WHERE workflow_id = %s", (strict.id,)
        ).fetchall()
    assert [s["step_name"] for s in steps] == ["Run Code Analyzer"]


def _approve(workflow_id: str, approve: bool) -> None:
    [approval] = wait_for(
        lambda: pending_approvals(workflow_id), what="an approval request", timeout=120
    )
    respond_to_approval(approval.id, APPROVER, approve, "ok" if approve else "not today")


def test_deployment_validates_asks_quick_deploys_the_validation_and_smoke_tests(
    stack: LocalStack, project: Path
) -> None:
    (project / TRIGGER).write_text(BULKIFIED_TRIGGER)
    started = start_workflow(StartRequest("deployment", {"target_org": "local"}, "U1"))
    _approve(started.id, True)
    status = wait_until_finished(started.id, timeout=180)
    assert status.status == "succeeded", (status.error, status.cause)
    steps = status.output["steps"]
    validation = steps["validate"]
    assert validation["tool"] == "deploy_validate"
    assert validation["passed"] is True
    assert validation["job_id"].startswith("0Af")
    deploy = steps["deploy"]
    assert deploy["validation_job_id"] == validation["job_id"]  # the validation's job id
    assert deploy["passed"] is True
    assert deploy["tests_run"] == 0  # no second test run
    assert steps["smoke_test"]["tool"] == "apex_tests"
    assert steps["smoke_test"]["failing"] == 0
    recorded = _sf(stack).validations()[validation["job_id"]]
    assert recorded["deployed"] == deploy["job_id"]  # the org deployed that validation


def test_a_failed_validation_names_its_components_and_asks_nobody(
    stack: LocalStack, project: Path
) -> None:
    (project / TRIGGER).write_text(BULKIFIED_TRIGGER)
    (project / CLASSES / "AccountService.cls-meta.xml").write_text("<ApexClass>")
    started = start_workflow(StartRequest("deployment", {"target_org": "local"}, "U1"))
    status = wait_until_finished(started.id, timeout=180)
    assert status.status == "failed"
    assert status.error == "ValidationFailed"
    assert status.cause is not None
    assert "components failed: AccountService" in status.cause
    assert "Request approval" not in [s.name for s in status.steps]
    assert pending_approvals(started.id) == []


def test_a_rejected_deployment_deploys_nothing(stack: LocalStack, project: Path) -> None:
    (project / TRIGGER).write_text(BULKIFIED_TRIGGER)
    started = start_workflow(StartRequest("deployment", {"target_org": "local"}, "U1"))
    _approve(started.id, False)
    status = wait_until_finished(started.id, timeout=120)
    assert status.status == "failed"
    assert [t["step_name"] for t in _tool_tasks(started.id)] == ["Validate deployment"]
    assert all(not v.get("deployed") for v in _sf(stack).validations().values())


def test_a_quick_deploy_refused_because_the_validation_expired_fails_the_workflow(
    stack: LocalStack, project: Path
) -> None:
    (project / TRIGGER).write_text(BULKIFIED_TRIGGER)
    _sf(stack).expire_validations_after(0)
    started = start_workflow(StartRequest("deployment", {"target_org": "local"}, "U1"))
    _approve(started.id, True)
    status = wait_until_finished(started.id, timeout=180)
    assert status.status == "failed"
    assert status.error == "DeployFailed"
    assert status.cause is not None
    assert "was refused" in status.cause
    assert "Run smoke tests" not in [t["step_name"] for t in _tool_tasks(started.id)]


FAILING_TEST = """\
@isTest
private class {name} {{
    @isTest
    static void keepsItsPromise() {{
        System.assert(false, 'the promise was broken');
    }}
}}
"""


def test_full_analysis_fails_when_its_tests_fail(stack: LocalStack, project: Path) -> None:
    # A test class whose test fails whatever the fixes do: sf apex run test says so.
    name = f"Promise{uuid.uuid4().hex[:6].upper()}Test"
    (project / CLASSES / f"{name}.cls").write_text(FAILING_TEST.format(name=name))
    (project / CLASSES / f"{name}.cls-meta.xml").write_text(META)
    started = start_workflow(
        StartRequest(
            "full-analysis-improvement",
            {"target": "force-app/main/default/classes/OpportunityRollup.cls", "max_fixes": 1},
            "U1",
        )
    )
    status = wait_until_finished(started.id, timeout=300)
    assert status.status == "failed", (status.error, status.cause)
    assert status.error == "TestsFailed"
    assert status.cause is not None
    assert f"{name}.keepsItsPromise" in status.cause
    assert "Generate report" not in [s.name for s in status.steps]


def test_bug_fix_is_verified_by_the_apex_tests_not_by_the_model(
    stack: LocalStack, project: Path
) -> None:
    # The scripted model fixes the trigger and would call the fix verified; a test elsewhere in
    # the project still fails, and only what sf apex run test says decides.
    name = f"Promise{uuid.uuid4().hex[:6].upper()}Test"
    (project / CLASSES / f"{name}.cls").write_text(FAILING_TEST.format(name=name))
    (project / CLASSES / f"{name}.cls-meta.xml").write_text(META)
    stack.redefine("bug-fix", MaxFixAttempts=2)
    given = {"description": "NPE on bulk insert", "component": "AccountTrigger"}
    started = start_workflow(StartRequest("bug-fix", given, "U1"))
    status = wait_until_finished(started.id, timeout=300)
    assert status.status == "failed", (status.error, status.cause)
    assert status.error == "VerificationFailed"
    assert status.cause is not None
    assert status.cause.startswith("The fix failed verification 2 times in a row")
    assert f"{name}.keepsItsPromise - System.AssertException" in status.cause
    verifications = [t for t in _tool_tasks(started.id) if t["step_name"] == "Verify the fix"]
    assert [t["model_provider"] for t in verifications] == ["tool", "tool"]
    first = verifications[0]["result"]
    assert isinstance(first, dict)
    assert (first["tool"], first["passed"], first["failing"]) == ("apex_tests", False, 1)
    # The fix was applied (the trigger's own test passes) and the second attempt was told
    # which test failed.
    assert first["passing"] == first["tests_ran"] - 1
    prompts = _prompts(started.id, "Implement the fix")
    assert len(prompts) == 2
    assert f"{name}.keepsItsPromise" in prompts[1]

    # Verified by the tests that cover the bug: the input's test classes, and it succeeds.
    scoped = start_workflow(
        StartRequest("bug-fix", {**given, "test_classes": "AccountTriggerTest"}, "U1")
    )
    status = wait_until_finished(scoped.id, timeout=300)
    assert status.status == "succeeded", (status.error, status.cause)
    verify = status.output["steps"]["verify"]
    assert (verify["test_classes"], verify["passed"]) == (["AccountTriggerTest"], True)
    assert verify["failing"] == 0 < verify["tests_ran"]
    # Its progress showed the tests at work, not a Claude Code session.
    stages = _stages_shown(scoped.id)
    assert stages["Verify the fix"] == ["Workspace", "Tool", "Results"]
    assert stages["Implement the fix"] == ["Workspace", "Claude Code", "Results"]
