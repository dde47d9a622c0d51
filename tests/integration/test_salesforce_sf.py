"""The ``sf`` steps against the stand-in ``sf`` (autodev.local.sf) on copies of examples/.

Each call runs the stand-in as a real process from PATH, with its state in a directory of the
test's own, exactly as the steps would run the real CLI.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from autodev.errors import InvalidInput
from autodev.local.sf import BIN_DIR, path_with_standin
from autodev.salesforce.errors import SfCommandError
from autodev.salesforce.sf import SfCli

ROOT = Path(__file__).resolve().parents[2]
TRIGGER = Path("force-app/main/default/triggers/AccountTrigger.trigger")
CLASSES = Path("force-app/main/default/classes")
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


def auth_url(refresh_token: str) -> SecretStr:
    return SecretStr(f"force://PlatformCLI::{refresh_token}@acme-dev.my.salesforce.com")


@dataclass
class Org:
    sf: SfCli
    project: Path
    state: Path
    alias: str = "ci"


@pytest.fixture
def org(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Org:
    monkeypatch.setenv("PATH", path_with_standin())
    project = tmp_path / "project"
    shutil.copytree(ROOT / "examples", project)
    state = tmp_path / "standin-state"
    sf = SfCli(tmp_path / "sf-config", extra_env={"AUTODEV_SF_STANDIN_STATE": str(state)})
    login = sf.login_sfdx_url(auth_url("5Aep861" + uuid.uuid4().hex), "ci")
    assert login.username
    assert login.org_id.startswith("00D")
    assert login.instance_url == "https://acme-dev.my.salesforce.com"
    return Org(sf, project, state)


def fix_trigger(project: Path) -> None:
    (project / TRIGGER).write_text(BULKIFIED_TRIGGER)


def test_apex_tests_fail_where_the_known_defect_is(org: Org) -> None:
    run = org.sf.run_apex_tests("ci", org.project)
    assert not run.passed
    assert run.outcome == "Failed"
    assert (run.tests_ran, run.passing, run.failing) == (4, 3, 1)
    assert run.pass_rate == 0.75
    assert run.test_run_id.startswith("707")
    [failure] = run.failures
    assert failure.title() == "AccountTriggerTest.handlesBulkInsertWithMixedIndustries"
    assert "System.NullPointerException: Attempt to de-reference a null object" in failure.message
    assert "Trigger.AccountTrigger: line 10, column 1" in failure.message
    assert failure.stack_trace.startswith(
        "Class.AccountTriggerTest.handlesBulkInsertWithMixedIndustries"
    )
    assert {c.name for c in run.coverage} == {
        "AccountService",
        "AccountTrigger",
        "OpportunityRollup",
    }
    assert run.test_run_coverage == 1.0


def test_apex_tests_pass_once_the_trigger_is_bulkified(org: Org) -> None:
    fix_trigger(org.project)
    run = org.sf.run_apex_tests("ci", org.project, class_names=["AccountTriggerTest"])
    assert run.passed
    assert (run.tests_ran, run.failing, run.pass_rate) == (2, 0, 1.0)
    assert run.failures == []
    assert [c.name for c in run.coverage] == ["AccountTrigger"]


def test_a_null_check_alone_leaves_the_query_in_the_loop_failing_in_bulk(org: Org) -> None:
    trigger = (org.project / TRIGGER).read_text()
    (org.project / TRIGGER).write_text(
        trigger.replace("acc.Industry.equals('Technology')", "acc.Industry == 'Technology'")
    )
    run = org.sf.run_apex_tests("ci", org.project, tests=["AccountTriggerTest"])
    [failure] = run.failures
    assert "System.LimitException: Too many SOQL queries: 101" in failure.message


def test_validate_then_quick_deploy_without_a_second_test_run(org: Org) -> None:
    fix_trigger(org.project)
    validation = org.sf.validate_deploy("ci", org.project)
    assert validation.succeeded
    assert validation.check_only
    assert validation.job_id.startswith("0Af")
    assert len(validation.job_id) == 18
    assert validation.tests_run == 4
    assert validation.components_total == 6
    assert validation.component_errors == []

    deployed = org.sf.quick_deploy("ci", org.project, validation.job_id)
    assert deployed.succeeded
    assert not deployed.refused
    assert deployed.deploy is not None
    assert deployed.deploy.job_id != validation.job_id
    assert not deployed.deploy.check_only
    assert deployed.deploy.tests_run == 0

    again = org.sf.quick_deploy("ci", org.project, validation.job_id)
    assert again.refused
    assert not again.succeeded
    assert again.refusal is not None
    assert "already been deployed" in again.refusal


def test_a_validation_with_component_errors_names_them(org: Org) -> None:
    fix_trigger(org.project)
    service = org.project / CLASSES / "AccountService.cls"
    service.write_text(service.read_text().rstrip().removesuffix("}"))
    (org.project / CLASSES / "OpportunityRollup.cls-meta.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<ApexClass>\n    <apiVersion>61.0</apiVersion\n'
    )
    validation = org.sf.validate_deploy("ci", org.project)
    assert not validation.succeeded
    assert validation.status == "Failed"
    assert validation.job_id.startswith("0Af")
    errors = {e.name: e for e in validation.component_errors}
    assert set(errors) == {"AccountService", "OpportunityRollup"}
    assert errors["AccountService"].message == "Missing '}' at '<EOF>'"
    assert errors["AccountService"].line == 22
    assert errors["OpportunityRollup"].message.startswith("Error parsing file:")
    assert errors["OpportunityRollup"].line == 3
    assert validation.message is not None
    assert "2 component error(s)" in validation.message
    # A failed validation can never be quick-deployed.
    refused = org.sf.quick_deploy("ci", org.project, validation.job_id)
    assert refused.refused


def test_a_validation_fails_when_a_test_fails(org: Org) -> None:
    validation = org.sf.validate_deploy("ci", org.project)
    assert not validation.succeeded
    assert validation.component_errors == []
    [failure] = validation.test_failures
    assert failure.title() == "AccountTriggerTest.handlesBulkInsertWithMixedIndustries"
    assert failure.message.startswith("System.DmlException: Insert failed.")


def test_quick_deploy_is_refused_once_the_validation_expired(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    fix_trigger(org.project)
    expiring = SfCli(
        org.sf.config_dir,
        extra_env={
            "AUTODEV_SF_STANDIN_STATE": str(org.state),
            "AUTODEV_SF_STANDIN_VALIDATION_TTL_SECONDS": "0",
        },
    )
    validation = expiring.validate_deploy("ci", org.project)
    assert validation.succeeded
    outcome = expiring.quick_deploy("ci", org.project, validation.job_id)
    assert outcome.refused
    assert outcome.deploy is None
    assert outcome.refusal is not None
    assert "validation expired" in outcome.refusal


def test_an_org_that_is_not_logged_in_is_an_error(org: Org, tmp_path: Path) -> None:
    with pytest.raises(SfCommandError) as missing:
        org.sf.run_apex_tests("prod", org.project)
    assert missing.value.name == "NamedOrgNotFoundError"
    assert missing.value.exit_code == 1
    # Another config directory does not see this one's orgs.
    elsewhere = SfCli(tmp_path / "other-config")
    with pytest.raises(SfCommandError, match="No authorization information found for ci"):
        elsewhere.run_apex_tests("ci", org.project)


def test_bad_input_is_refused_before_sf_runs(org: Org) -> None:
    with pytest.raises(InvalidInput, match="job id"):
        org.sf.quick_deploy("ci", org.project, "not-a-job")
    with pytest.raises(InvalidInput, match="alias"):
        org.sf.run_apex_tests("ci; rm -rf /", org.project)
    with pytest.raises(InvalidInput, match="inside the project"):
        org.sf.validate_deploy("ci", org.project, source_dirs=["../elsewhere"])
    with pytest.raises(InvalidInput, match="needs the tests"):
        org.sf.validate_deploy("ci", org.project, test_level="RunSpecifiedTests")


def _spy_on_sf(directory: Path, record: Path) -> str:
    """A PATH whose ``sf`` records its argv and environment, then runs the stand-in."""
    directory.mkdir()
    spy = directory / "sf"
    spy.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(record)!r}, 'a') as out:\n"
        "    out.write(json.dumps({'argv': sys.argv, 'env': dict(os.environ)}) + '\\n')\n"
        f"os.execv({str(BIN_DIR / 'sf')!r}, [{str(BIN_DIR / 'sf')!r}, *sys.argv[1:]])\n"
    )
    spy.chmod(spy.stat().st_mode | stat.S_IXUSR)
    return os.pathsep.join([str(directory), os.environ["PATH"]])


def test_the_auth_url_appears_in_no_output_result_error_log_argv_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    canary = "CANARY" + uuid.uuid4().hex
    record = tmp_path / "sf-calls.jsonl"
    monkeypatch.setenv("PATH", _spy_on_sf(tmp_path / "spy", record))
    project = tmp_path / "project"
    shutil.copytree(ROOT / "examples", project)
    config = tmp_path / "sf-config"
    state = tmp_path / "state"
    sf = SfCli(config, extra_env={"AUTODEV_SF_STANDIN_STATE": str(state)})
    caplog.set_level(logging.DEBUG)
    said: list[str] = []

    login = sf.login_sfdx_url(auth_url(canary), "ci")
    said += [login.model_dump_json(), repr(login), str(login)]
    said.append(sf.run_apex_tests("ci", project).model_dump_json())
    said.append(sf.validate_deploy("ci", project).model_dump_json())
    for bad in (f"force://id:{canary}", f"https://{canary}@host"):
        with pytest.raises(InvalidInput) as refused:
            sf.login_sfdx_url(SecretStr(bad), "ci")
        said.append(str(refused.value))

    calls = [json.loads(line) for line in record.read_text().splitlines()]
    assert [c["argv"][1:4] for c in calls][:2] == [
        ["org", "login", "sfdx-url"],
        ["apex", "run", "test"],
    ]
    for call in calls:
        said.append(" ".join(call["argv"]))
        said.append(json.dumps(call["env"]))
    said.append(caplog.text)
    for path in [*config.rglob("*"), *state.rglob("*")]:
        if path.is_file():
            said.append(path.read_text(errors="replace"))
    assert not list(config.glob(".autodev-auth-*")), "the URL file outlived the login"
    leaks = [text for text in said if canary in text]
    assert leaks == []
    assert "running sf org login sfdx-url" in caplog.text


def test_an_sf_error_that_echoes_the_auth_url_is_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # An sf that fails and quotes the file it was given, as a careless error message would.
    canary = "CANARY" + uuid.uuid4().hex
    echoing = tmp_path / "bin"
    echoing.mkdir()
    script = echoing / "sf"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "url = open(sys.argv[sys.argv.index('--sfdx-url-file') + 1]).read()\n"
        "print(json.dumps({'name': 'AuthError', 'message': 'cannot use ' + url, 'exitCode': 1}))\n"
        "sys.stderr.write('debug: ' + url)\n"
        "sys.exit(1)\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", os.pathsep.join([str(echoing), os.environ["PATH"]]))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SfCommandError) as failed:
        SfCli(tmp_path / "config").login_sfdx_url(auth_url(canary), "ci")
    assert failed.value.name == "AuthError"
    assert "[REDACTED]" in str(failed.value)
    assert canary not in str(failed.value)
    assert canary not in caplog.text
