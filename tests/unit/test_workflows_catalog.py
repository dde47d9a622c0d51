"""The template catalog: lookup, input validation and prompts."""

from __future__ import annotations

import pytest

from autodev.errors import InvalidInput, NotFound
from autodev.workflows.catalog import (
    get_template,
    list_templates,
    render_prompt,
    starts_with_worker_step,
)


def test_unknown_template_lists_the_known_ones() -> None:
    with pytest.raises(NotFound, match=r"no workflow template 'nope'.*bug-fix, code-review"):
        get_template("nope")


def test_every_template_is_described_and_its_example_is_valid() -> None:
    for info in list_templates():
        assert info.title
        assert info.description
        assert info.default_priority in {"critical", "high", "normal", "low"}
        assert info.default_budget_usd > 0
        assert info.free_text_field in info.input_schema["properties"]
        info.validate_input(info.example_input)


def test_which_templates_start_with_a_step_a_worker_runs() -> None:
    # Read from the files alone (the Slack front door asks); the same answer as the catalog's.
    for info in list_templates():
        assert starts_with_worker_step(info.name) is (info.steps[0].kind != "approval")
    assert starts_with_worker_step("bug-fix") is True
    for name in ("nope", "", "../templates/bug-fix", "bug-fix.json"):
        assert starts_with_worker_step(name) is False


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "'description' is a required property"),
        ({"description": "x"}, "at description: 'x' is too short"),
        ({"description": "a bug", "colour": "red"}, "Additional properties"),
        ("a bug", "is not of type 'object'"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(given: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        get_template("bug-fix").validate_input(given)


def test_prompt_fills_input_defaults_previous_steps_and_item() -> None:
    info = get_template("full-analysis-improvement")
    prompt = render_prompt(
        info,
        info.step("implement"),
        {"input": {"target": "AccountService"}, "item": {"title": "Bulkify the trigger"}},
    )
    assert "AccountService" in prompt
    assert "Bulkify the trigger" in prompt
    analysis = render_prompt(info, info.step("prioritise"), {"input": {"target": "X"}})
    assert "at most 5 high-priority" in analysis  # the schema default of max_fixes
    assert '{"items": [...]}' in analysis


def test_input_braces_are_not_format_fields() -> None:
    info = get_template("bug-fix")
    prompt = render_prompt(
        info, info.step("reproduce"), {"input": {"description": "fails on {0} and {x.y}"}}
    )
    assert "fails on {0} and {x.y}" in prompt


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"description": "x" * 100_000}, r"is too long \(100000 characters; at most 4000\)$"),
        ({"description": ["y" * 100_000]}, r"is not of type 'string'$"),
    ],
)
def test_a_huge_bad_value_is_not_quoted_whole(given: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        get_template("bug-fix").validate_input(given)
    assert len(str(refused.value)) < 200
