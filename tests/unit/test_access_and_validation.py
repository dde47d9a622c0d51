"""Who may do what (autodev.access), what text and budgets are accepted (autodev.validation),
where the CLI thinks it runs, and how a local worker knows its stack is gone."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from autodev import access, validation
from autodev.cli.identity import deployed_function_name, on_local_stack
from autodev.config import load_settings
from autodev.errors import InvalidInput
from autodev.orchestrator import parent_watch

ROLE_SESSIONS = "arn:aws:sts::123456789012:assumed-role/ReleaseManagers/*"


def test_cancel_is_for_the_requester_the_approvers_and_the_admins() -> None:
    settings = load_settings(approvers=f"UAPPROVER,{ROLE_SESSIONS}", admins="UADMIN")
    assert access.may_cancel("UREQUESTER", "UREQUESTER", settings)
    assert access.may_cancel("UAPPROVER", "UREQUESTER", settings)
    assert access.may_cancel("UADMIN", "UREQUESTER", settings)
    assert not access.may_cancel("UOTHER", "UREQUESTER", settings)
    # Every session of the role, and only of that role.
    alice = "arn:aws:sts::123456789012:assumed-role/ReleaseManagers/alice"
    assert access.is_approver(alice, settings)
    assert not access.is_approver("arn:aws:sts::123456789012:assumed-role/Developers/bob", settings)
    # Admins cancel; they do not approve unless they are approvers too.
    assert not access.is_approver("UADMIN", settings)


def test_nobody_approves_or_administers_until_configured() -> None:
    settings = load_settings()
    assert not access.is_approver("U1", settings)
    assert not access.is_admin("U1", settings)
    assert access.os_user().startswith("cli:")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a\x00b", "a NUL character (\\u0000)"),
        ("a\ud800", "an unpaired surrogate (\\ud800), which is not a character"),
        ("\udcff", "an unpaired surrogate (\\udcff), which is not a character"),
        ("plain, emoji 🚀 and ünïcode", None),
    ],
)
def test_what_postgres_cannot_store_is_named(text: str, problem: str | None) -> None:
    assert validation.unstorable(text) == problem
    cleaned = validation.without_unstorable(text)
    assert validation.unstorable(cleaned) is None
    assert (cleaned == text) is (problem is None)
    cleaned.encode()  # storable: it encodes as UTF-8


def test_strings_are_checked_everywhere_in_a_document_with_where_they_are() -> None:
    validation.check_strings({"a": ["ok", {"b": "fine"}]}, "the input")
    with pytest.raises(InvalidInput, match=r"^the input\.a\[1\]\.b contains a NUL"):
        validation.check_strings({"a": ["ok", {"b": "x\x00"}]}, "the input")
    with pytest.raises(InvalidInput, match=r"^the input \(a field name\) contains"):
        validation.check_strings({"k\x00": 1}, "the input")


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (float("inf"), "above 0, not inf"),
        (float("-inf"), "above 0, not -inf"),
        (float("nan"), "above 0, not nan"),
        (0, "above 0, not 0"),
        (True, "above 0, not True"),
        ("a lot", "is a number of US dollars, not 'a lot'"),
        (1e308, "$1e+308 is above the most a workflow may have, $50.00"),
        (50.01, "$50.01 is above the most a workflow may have, $50.00"),
    ],
)
def test_budgets_are_finite_positive_and_bounded(given: object, said: str) -> None:
    with pytest.raises(InvalidInput, match=r"budget") as refused:
        validation.budget_usd(given, maximum=50)
    assert said in str(refused.value)


def test_a_budget_within_bounds_is_taken() -> None:
    assert validation.budget_usd("12.5", maximum=50) == 12.5
    assert validation.budget_usd(50, maximum=50) == 50.0


def test_the_maximum_budget_setting_must_be_finite() -> None:
    from autodev.config import ConfigError

    with pytest.raises(ConfigError, match="WORKFLOW_MAX_BUDGET_USD is not valid"):
        load_settings(workflow_max_budget_usd="inf")
    with pytest.raises(ConfigError, match="TASK_BUDGET_USD is not valid"):
        load_settings(task_budget_usd="inf")


@pytest.mark.parametrize(
    ("endpoint", "local"),
    [
        ("http://127.0.0.1:4566", True),
        ("http://localhost:5000", True),
        ("http://[::1]:5000", True),
        ("https://states.eu-west-1.amazonaws.com", False),
        ("", False),
    ],
)
def test_the_cli_is_on_the_local_stack_when_aws_is_on_this_machine(
    endpoint: str, local: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    assert on_local_stack() is local


def test_the_cli_names_the_deployed_function_as_infra_does() -> None:
    assert deployed_function_name("prod") == "autodev-prod-slack-worker"


def test_a_worker_tells_a_live_parent_from_a_gone_or_reused_pid() -> None:
    me = parent_watch.this_process()
    assert parent_watch.gone(me) is None
    pid, _, started = me.partition(":")
    # The kernel's start time in clock ticks, not a time derived from the wall clock (which
    # moves when the clock is stepped).
    ticks = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    assert started == f"t{ticks}"
    # The same pid with another start time: a new process that reused the pid.
    assert "has exited" in str(parent_watch.gone(f"{pid}:t{int(ticks) + 1}"))
    assert "has exited" in str(parent_watch.gone(f"{2**22 + 17}:t1"))
    # Where there is no /proc, psutil's create_time, within 10 ms.
    created = psutil.Process().create_time()
    assert parent_watch.gone(f"{pid}:{created:.3f}") is None
    assert "has exited" in str(parent_watch.gone(f"{pid}:{created - 100:.3f}"))
    assert parent_watch.gone("garbage") is None  # not ours to judge
    assert int(pid) == os.getpid()
