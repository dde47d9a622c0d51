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
        ("schedules", Action.SCHEDULES, None, None),
        ("unschedule bug-fix-1a2b3c4d", Action.UNSCHEDULE, "bug-fix-1a2b3c4d", None),
        ("audit 1a2b3c4d", Action.AUDIT, "1a2b3c4d", None),
    ],
)
def test_workflow_subcommands(
    text: str, action: Action, target: str | None, comment: str | None
) -> None:
    command = parse("/workflow", text)
    assert (command.action, command.target_id, command.comment) == (action, target, comment)


def test_schedule_takes_the_expression_whole_a_time_zone_and_input() -> None:
    command = parse(
        "/workflow",
        "schedule bug-fix cron(0  9 ? * MON-FRI *) tz=Europe/Paris AccountTrigger NPE",
    )
    assert command.action is Action.SCHEDULE
    assert command.template == "bug-fix"
    assert command.schedule == "cron(0 9 ? * MON-FRI *)"
    assert command.timezone == "Europe/Paris"
    assert command.input == {"request": "AccountTrigger NPE"}
    plain = parse("/workflow", "schedule code-review RATE(6 hours) target=AccountService")
    assert (plain.schedule, plain.timezone) == ("rate(6 hours)", None)
    assert plain.input == {"target": "AccountService"}
    # The expression itself is checked when the schedule is created, with the reason.
    assert parse("/workflow", "schedule bug-fix cron(99 * * *)").schedule == "cron(99 * * *)"


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
        ("schedule", "needs a template and a schedule"),
        ("schedule bug-fix", "needs a template and a schedule"),
        ("schedule bug-fix every day", "needs a template and a schedule"),
        ("schedule Bad!Name cron(0 9 ? * MON *)", "is not a template name"),
        ("schedules extra", "takes no arguments"),
        ("unschedule", "needs one schedule id"),
        ("audit a b", "needs one workflow id"),
    ],
)
def test_bad_input_gets_short_usage(text: str, expected: str) -> None:
    with pytest.raises(UsageError, match=expected) as raised:
        parse("/workflow", text)
    # Short enough to read at a glance (the usage lists every subcommand in one line).
    assert len(str(raised.value)) < 640


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


def test_budget_is_taken_from_start_and_not_left_in_the_input() -> None:
    command = parse("/workflow", "start bug-fix AccountTrigger NPE budget=12.5")
    assert command.budget_usd == 12.5
    assert command.input == {"request": "AccountTrigger NPE"}
    assert parse("/workflow", "start bug-fix NPE").budget_usd is None


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("start bug-fix NPE budget=inf", "above 0, not 'inf'"),
        ("start bug-fix NPE budget=nan", "above 0, not 'nan'"),
        ("start bug-fix NPE budget=-3", "above 0, not '-3'"),
        ("start bug-fix NPE budget=1e308", "$1e+308 is above the most a workflow may have"),
        ("start bug-fix NPE budget=", "is a number of US dollars, not ''"),
        ("start bug-fix N\x00PE", "contains a NUL character"),
        ("start bug-fix NPE \ud800", "contains an unpaired surrogate (\\ud800)"),
        ("reject 6f1c1a2b no\x00", "contains a NUL character"),
    ],
)
def test_bad_budgets_and_unstorable_text_are_usage_errors(text: str, said: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse("/workflow", text)
    assert said in str(refused.value)


def test_memory_commands() -> None:
    remembered = parse("/workflow", "remember Run tests with RunLocalTests")
    assert (remembered.action, remembered.text, remembered.team) == (
        Action.REMEMBER,
        "Run tests with RunLocalTests",
        False,
    )
    team = parse("/workflow", "remember --TEAM Our org uses the trigger handler pattern")
    assert (team.text, team.team) == ("Our org uses the trigger handler pattern", True)
    assert parse("/workflow", "memories").action is Action.MEMORIES
    forgotten = parse("/workflow", "forget 12")
    assert (forgotten.action, forgotten.text) == (Action.FORGET, "12")
    for text, expected in (
        ("remember", "needs a fact"),
        ("remember --team", "needs a fact"),
        ("forget", "needs a memory's id or text"),
        ("memories mine", "takes no arguments"),
    ):
        with pytest.raises(UsageError, match=expected):
            parse("/workflow", text)
