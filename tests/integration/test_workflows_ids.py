"""A workflow is found by its id, its execution name or its short id, everywhere one is taken."""

from __future__ import annotations

import pytest

from autodev.db import connection
from autodev.errors import NotFound
from autodev.local.stack import LocalStack
from autodev.local.testing import wait_for
from autodev.slack import platform
from autodev.workflows import (
    AmbiguousId,
    StartRequest,
    approval_to_answer,
    cancel_workflow,
    get_workflow_status,
    pending_approvals,
    resolve_workflow_id,
    short_id,
    start_workflow,
)

FIRST = "1650cb25-0000-4000-8000-000000000001"
TWIN = "1650cb25-ffff-4000-8000-000000000002"  # the same short id as FIRST
OTHER = "0badf00d-0000-4000-8000-000000000003"


def _add(workflow_id: str, template: str, execution_name: str | None = None) -> str:
    name = execution_name or f"{template}-{short_id(workflow_id)}"
    with connection() as conn:
        conn.execute(
            "INSERT INTO workflows (id, template, execution_name, requested_by) "
            "VALUES (%s, %s, %s, 'U1')",
            (workflow_id, template, name),
        )
    return name


def test_each_form_names_the_workflow(database: str) -> None:
    _add(OTHER, "code-review")
    for typed in (OTHER, OTHER.upper(), "code-review-0badf00d", "0badf00d", " 0BADF00D "):
        assert resolve_workflow_id(typed) == OTHER, typed
        assert get_workflow_status(typed).id == OTHER, typed


def test_a_name_or_short_id_that_matches_nothing_is_no_workflow(database: str) -> None:
    _add(OTHER, "code-review")
    for typed in ("bug-fix-0badf00d", "deadbeef", "no-such-thing"):
        with pytest.raises(NotFound, match=f"^no workflow '{typed}'$"):
            get_workflow_status(typed)


def test_an_ambiguous_short_id_names_the_candidates_and_the_name_still_works(
    database: str,
) -> None:
    first = _add(FIRST, "bug-fix")
    twin = _add(TWIN, "deployment")
    with pytest.raises(AmbiguousId) as raised:
        get_workflow_status("1650cb25")
    message = str(raised.value)
    assert message.startswith("the short id 1650cb25 matches more than one workflow: ")
    assert f"{first} ({FIRST})" in message
    assert f"{twin} ({TWIN})" in message
    assert message.endswith("give the execution name or the full id")
    assert get_workflow_status(twin).id == TWIN
    assert get_workflow_status(FIRST).id == FIRST


def test_approvals_are_found_through_a_short_id_or_name(database: str) -> None:
    name = _add(FIRST, "deployment")
    with connection() as conn:
        conn.execute(
            "INSERT INTO approvals (id, workflow_id, step_name, message, task_token) "
            "VALUES ('approval-one-xxxxxxxxxxx', %s, 'Request approval', 'Deploy?', 'tok')",
            (FIRST,),
        )
    assert [a.id for a in pending_approvals("1650cb25")] == ["approval-one-xxxxxxxxxxx"]
    assert approval_to_answer(name) == "approval-one-xxxxxxxxxxx"
    assert approval_to_answer("1650cb25") == "approval-one-xxxxxxxxxxx"
    # An approval id is not a workflow reference: it passes through as given.
    assert approval_to_answer("approval-one-xxxxxxxxxxx") == "approval-one-xxxxxxxxxxx"
    _add(OTHER, "deployment")
    with pytest.raises(NotFound, match="has no approval to answer"):
        approval_to_answer("0badf00d")


def test_slack_and_cancel_take_the_short_id_and_the_name(local_stack: LocalStack) -> None:
    started = start_workflow(StartRequest("code-review", {"target": "AccountTrigger"}, "U1"))
    short = started.execution_name.rsplit("-", 1)[1]
    assert short == short_id(started.id)
    wait_for(lambda: get_workflow_status(short).status == "running", what="the execution")

    shown = platform.status(started.execution_name)
    assert (shown.id, shown.status) == (started.id, "running")
    cancelled = platform.cancel(short, "U1")
    assert (cancelled.id, cancelled.status) == (started.id, "cancelled")
    assert get_workflow_status(started.execution_name).status == "cancelled"
    with pytest.raises(NotFound, match="no workflow 'bug-fix-"):
        cancel_workflow(f"bug-fix-{short}", "U1")
    assert resolve_workflow_id(short) == started.id
