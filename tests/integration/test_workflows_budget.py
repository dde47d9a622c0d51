"""WORKFLOW_BUDGET_USD is what a workflow nobody gave a budget may spend: it caps the
template's default, and the steps' task budgets follow. A budget asked for is kept, up to
WORKFLOW_MAX_BUDGET_USD, and refused above it."""

from __future__ import annotations

import pytest

from autodev.config import get_settings
from autodev.errors import InvalidInput
from autodev.local.stack import LocalStack
from autodev.local.testing import wait_for
from autodev.orchestrator import queue
from autodev.workflows import StartRequest, cancel_workflow, get_workflow_status, start_workflow


def _start(budget: float | None = None) -> str:
    started = start_workflow(
        StartRequest("bug-fix", {"description": "NPE"}, "U1", budget_usd=budget)
    )
    return started.id


def test_the_workflow_budget_setting_caps_every_workflow_s_budget(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unset (25 USD): the template's default of 10 stands.
    assert get_workflow_status(_start()).budget_usd == 10.0

    monkeypatch.setenv("WORKFLOW_BUDGET_USD", "2")
    get_settings.cache_clear()
    capped = _start()
    assert get_workflow_status(capped).budget_usd == 2.0
    assert get_workflow_status(_start(50.0)).budget_usd == 50.0
    assert get_workflow_status(_start(1.5)).budget_usd == 1.5
    with pytest.raises(InvalidInput, match="WORKFLOW_MAX_BUDGET_USD"):
        _start(150.0)

    # The first step's task may spend no more than its workflow (TASK_BUDGET_USD is 5).
    [task] = wait_for(lambda: queue.workflow_tasks(capped), what="the first step's task")
    assert task.budget_usd == 2.0
    cancel_workflow(capped, "U1")
