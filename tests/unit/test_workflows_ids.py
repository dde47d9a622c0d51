"""Workflow references as people type them, classified without the database."""

from __future__ import annotations

import pytest

from autodev.errors import InvalidInput, NotFound
from autodev.workflows.ids import AmbiguousId, Reference, parse_reference, short_id

WORKFLOW_ID = "1650cb25-9ed2-4ce7-93ff-ed562e113594"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (WORKFLOW_ID, Reference("id", WORKFLOW_ID)),
        (f"  {WORKFLOW_ID.upper()} ", Reference("id", WORKFLOW_ID)),
        (WORKFLOW_ID.replace("-", ""), Reference("id", WORKFLOW_ID)),
        ("bug-fix-1650cb25", Reference("execution_name", "bug-fix-1650cb25")),
        (
            "full-analysis-improvement-1650cb25",
            Reference("execution_name", "full-analysis-improvement-1650cb25"),
        ),
        ("Bug-Fix-1650CB25", Reference("execution_name", "bug-fix-1650cb25")),
        ("1650cb25", Reference("short_id", "1650cb25")),
        ("1650CB25", Reference("short_id", "1650cb25")),
    ],
)
def test_the_three_forms_are_recognised(typed: str, expected: Reference) -> None:
    assert parse_reference(typed) == expected


@pytest.mark.parametrize(
    "typed", ["1650cb2", "1650cb25a", "bug-fix-", "nightly-review-1", "Nightly_Review"]
)
def test_other_step_functions_names_are_execution_names(typed: str) -> None:
    # An execution started outside autodev (console, EventBridge) keeps its own name.
    assert parse_reference(typed) == Reference("execution_name", typed)


@pytest.mark.parametrize(
    "typed", ["", "   ", "bug fix 1650cb25", "a/b", "x" * 81, "name;drop", "näme"]
)
def test_anything_else_is_no_workflow(typed: str) -> None:
    with pytest.raises(NotFound, match=r"^no workflow "):
        parse_reference(typed)


def test_a_long_reference_is_quoted_short() -> None:
    with pytest.raises(NotFound) as raised:
        parse_reference("x" * 500)
    assert len(str(raised.value)) < 80


def test_the_short_id_is_the_hex_part_of_the_execution_name() -> None:
    # start_workflow names executions f"{template}-{workflow_id.hex[:8]}".
    assert short_id(WORKFLOW_ID) == "1650cb25"
    assert parse_reference(f"bug-fix-{short_id(WORKFLOW_ID)}").value.endswith("1650cb25")


def test_an_ambiguous_id_is_bad_input() -> None:
    assert issubclass(AmbiguousId, InvalidInput)
