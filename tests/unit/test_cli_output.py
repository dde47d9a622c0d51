"""Tables on a narrow terminal keep the name a person types whole."""

from __future__ import annotations

import pytest

from autodev.cli import output


def _narrow(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    # The private field, not the ``width`` property: undoing a patch of the property would set
    # the width it computed (80 here) for good, and later CLI runs would ignore COLUMNS.
    monkeypatch.setattr(output.console, "_width", columns)


def test_the_first_column_is_never_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    _narrow(monkeypatch, 60)
    with output.console.capture() as captured:
        output.print_table(
            "templates",
            ("template", "title", "input"),
            [("full-analysis-improvement", "Full analysis and improvement", "target*, focus")],
        )
    assert "full-analysis-improvement" in captured.get()


def test_table_cells_are_printed_as_they_are_not_as_markup() -> None:
    with output.console.capture() as captured:
        output.print_table(
            None,
            ("step", "cause"),
            [("Verify the fix", "[scripted model] 2 defects remain [/oops]")],
        )
    assert "[scripted model] 2 defects remain [/oops]" in captured.get()


def test_workflow_list_shows_every_input_whole_on_80_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from autodev.cli.workflow import list_command
    from autodev.workflows import list_templates

    _narrow(monkeypatch, 80)
    with output.console.capture() as captured:
        list_command()
    shown = captured.get()
    assert "…" not in shown
    assert max(len(line) for line in shown.splitlines()) <= 80
    for template in list_templates():
        for name in template.input_schema["properties"]:
            assert name in shown, name
