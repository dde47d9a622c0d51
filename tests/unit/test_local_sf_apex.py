"""What the stand-in ``sf`` sees in Apex source: comments and strings, compile problems, defects."""

from __future__ import annotations

from pathlib import Path

from autodev.local.sf.apex import (
    blank_comments_and_strings,
    compile_problems,
    load_project,
    metadata_problems,
    read_unit,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def test_comments_and_strings_are_blanked_in_place() -> None:
    source = "a = '}'; // }\n/* {\n } */ b = 1;"
    clean = blank_comments_and_strings(source)
    assert len(clean) == len(source)
    assert clean.count("\n") == source.count("\n")
    assert "{" not in clean
    assert "}" not in clean
    assert "b = 1;" in clean


def test_examples_compile_and_their_trigger_defects_are_seen() -> None:
    project = load_project(EXAMPLES)
    assert {u.name for u in project.tests} == {
        "AccountServiceTest",
        "AccountTriggerTest",
        "OpportunityRollupTest",
    }
    for unit in project.units.values():
        assert compile_problems(unit) == []
        assert metadata_problems(unit) == []
    trigger = project.units["AccountTrigger"]
    assert trigger.sobject == "Account"
    assert trigger.events == ("after insert",)
    [(sobject, field, _)] = trigger.null_derefs()
    assert (sobject, field) == ("Account", "Industry")
    limit = trigger.limit_defect()
    assert limit is not None
    assert limit[0] == "SOQL"


def test_only_the_bulk_test_with_null_industries_fails() -> None:
    project = load_project(EXAMPLES)
    outcomes = {
        (unit.name, method): project.run_test(unit, method).outcome
        for unit in project.tests
        for method in (
            "createsPrimaryContactForTechnologyAccount",
            "handlesBulkInsertWithMixedIndustries",
            "countsOpenOpportunitiesPerAccount",
            "rollsUpClosedWonAmounts",
        )
        if method in unit.source
    }
    assert outcomes == {
        ("AccountServiceTest", "countsOpenOpportunitiesPerAccount"): "Pass",
        ("AccountTriggerTest", "createsPrimaryContactForTechnologyAccount"): "Pass",
        ("AccountTriggerTest", "handlesBulkInsertWithMixedIndustries"): "Fail",
        ("OpportunityRollupTest", "rollsUpClosedWonAmounts"): "Pass",
    }


def test_compile_problems_point_at_the_line(tmp_path: Path) -> None:
    extra = tmp_path / "Extra.cls"
    extra.write_text("public class Extra {\n    void a() { }\n    }\n}\n")
    [problem] = compile_problems(read_unit(extra))
    assert (problem.problem, problem.line, problem.column) == ("Unexpected token '}'.", 4, 1)
    misnamed = tmp_path / "Named.cls"
    misnamed.write_text("public class Other {\n}\n")
    [problem] = compile_problems(read_unit(misnamed))
    assert problem.problem.startswith("Invalid class name: Other.")
    assert metadata_problems(read_unit(misnamed))[0].problem.endswith("has no Named.cls-meta.xml")
