"""What bug-fix's verification runs: the input's test classes, checked before sf sees them."""

from __future__ import annotations

import pytest

from autodev.errors import InvalidInput
from autodev.salesforce.steps import _test_classes
from autodev.workflows.catalog import get_template


def test_test_classes_are_named_once_in_order() -> None:
    assert _test_classes(
        {"test_classes": " AccountTriggerTest, Other_Test ,AccountTriggerTest"}
    ) == [
        "AccountTriggerTest",
        "Other_Test",
    ]
    assert _test_classes({}) == []  # none: RunLocalTests
    assert _test_classes({"test_classes": ["A", " B "]}) == ["A", "B"]
    with pytest.raises(InvalidInput, match="comma-separated"):
        _test_classes({"test_classes": 3})


@pytest.mark.parametrize("value", ["A; rm -rf /", "--target-org prod", "A,,B", "1Test", ""])
def test_bug_fix_refuses_test_classes_that_are_not_class_names(value: str) -> None:
    bug_fix = get_template("bug-fix")
    with pytest.raises(InvalidInput, match="test_classes"):
        bug_fix.validate_input({"description": "NPE on insert", "test_classes": value})


def test_bug_fix_verifies_in_the_ci_org_unless_told_otherwise() -> None:
    given = get_template("bug-fix").with_defaults({"description": "NPE on insert"})
    assert given["target_org"] == "ci"
    assert "test_classes" not in given
