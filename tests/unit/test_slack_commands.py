"""Parsing slash commands: what Slack users type, and the usage they get when it is wrong."""

from __future__ import annotations

import pytest

from autodev.slack.commands import Action, UsageError, parse, parse_input


def test_start_with_free_text_keeps_the_words() -> None:
    command = parse("/workflow", "start bug-fix AccountTrigger NPE on bulk insert")
    assert command.action is Action.START
    assert command.template == "bug-fix"
    assert command.input == {"request": "AccountTrigger NPE on bulk insert"}


def test_start_with_key_values_and_quotes() -> None:
    command = parse("/workflow", 'start deployment target=AccountTrigger note="to prod now"')
    assert command.input == {"target": "AccountTrigger", "note": "to prod now"}


def test_mixed_input_and_unbalanced_quote() -> None:
    assert parse_input("org=dev fix the trigger") == {"org": "dev", "request": "fix the trigger"}
    assert parse_input('say "hello') == {"request": 'say "hello'}


@pytest.mark.parametrize(
    ("text", "action", "target", "comment"),
    [
        ("list", Action.LIST, None, None),
        ("help", Action.HELP, None, None),
        ("status bug-fix-1a2b3c4d", Action.STATUS, "bug-fix-1a2b3c4d", None),
        ("cancel 6f1c", Action.CANCEL, "6f1c", None),
        ("approve 6f1c looks good", Action.APPROVE, "6f1c", "looks good"),
        ("reject 6f1c", Action.REJECT, "6f1c", None),
        ("STATUS abc", Action.STATUS, "abc", None),
    ],
)
def test_workflow_subcommands(
    text: str, action: Action, target: str | None, comment: str | None
) -> None:
    command = parse("/workflow", text)
    assert (command.action, command.target_id, command.comment) == (action, target, comment)


def test_monitor_and_orchestrator() -> None:
    assert parse("/monitor", "").action is Action.MONITOR
    assert parse("/orchestrator", "").action is Action.ORCHESTRATOR
    with pytest.raises(UsageError, match="/monitor"):
        parse("/monitor", "everything")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("frobnicate", "Unknown subcommand `frobnicate`"),
        ("start", "needs a template"),
        ("start Bad!Name", "is not a template name"),
        ("status", "needs one workflow id"),
        ("status a b", "needs one workflow id"),
        ("status ../../etc", "needs one workflow id"),
        ("list extra", "takes no arguments"),
        ("start bug-fix " + "x" * 5000, "too long"),
    ],
)
def test_bad_input_gets_short_usage(text: str, expected: str) -> None:
    with pytest.raises(UsageError, match=expected) as raised:
        parse("/workflow", text)
    assert len(str(raised.value)) < 400


def test_help_names_every_command() -> None:
    from autodev.slack.commands import usage_for

    assert parse("/workflow", "").action is Action.HELP
    assert parse("/workflow", "help").action is Action.HELP
    shown = usage_for("/workflow")
    for command in ("/workflow start", "/workflow approve", "/monitor", "/orchestrator"):
        assert command in shown


def test_unknown_command() -> None:
    with pytest.raises(UsageError, match="Unknown command `/deploy`"):
        parse("/deploy", "now")
