"""The monitoring dashboard on a real Postgres, fed through the orchestrator's own queue API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from autodev.config import get_settings
from autodev.db import connection
from autodev.errors import InvalidInput
from autodev.monitoring import (
    Health,
    dashboard,
    register_health_check,
    run_health_checks,
    unregister_health_check,
)
from autodev.monitoring.figures import TASK_FINISHED_METRIC
from autodev.orchestrator import metrics, queue
from autodev.orchestrator.queue import TaskSpec
from tests.integration.finished_tasks import finish_task

WORKER = "host-1-monitor"


def _run(
    outcome: str,
    *,
    model: str | None = None,
    tokens: tuple[int, int] = (0, 0),
    cost: float = 0.0,
    provider: str = "anthropic",
) -> str:
    """One task ended as ``outcome`` (succeeded, failed, dead, running)."""
    return finish_task(
        outcome,
        worker=WORKER,
        priority="critical",
        model=model,
        model_provider=provider,
        tokens=tokens,
        cache_read_tokens=10,
        cost=cost,
    )


def _populate() -> None:
    _run("succeeded", model="claude-sonnet", tokens=(1000, 200), cost=0.25)
    _run("succeeded", model="claude-sonnet", tokens=(500, 100), cost=0.125)
    _run("succeeded", model="claude-haiku", tokens=(300, 30), cost=0.01)
    _run("failed", model="claude-haiku", tokens=(50, 5), cost=0.005)
    _run("dead")
    _run("running", model="claude-sonnet", tokens=(100, 0), cost=0.5)
    queue.submit_task(TaskSpec(task_type="analysis", prompt="waiting"))
    # A task that finished two days ago is outside the 24-hour window, with its cost.
    old = _run("succeeded", model="claude-opus", tokens=(9999, 9999), cost=99.0)
    with connection() as conn:
        conn.execute(
            "UPDATE autonomous_tasks SET finished_at = now() - interval '2 days' WHERE id = %s",
            (old,),
        )
        for status in ("running", "succeeded", "failed"):
            conn.execute(
                """INSERT INTO workflows (id, template, execution_name, status, requested_by)
                   VALUES (%s, 'bug-fix', %s, %s, 'U1')""",
                (uuid.uuid4(), f"bug-fix-{uuid.uuid4().hex[:8]}", status),
            )
        # Rows as autodev.monitoring.alerts writes them (one open alert per fingerprint).
        for severity, state in (("warning", "open"), ("critical", "open"), ("info", "resolved")):
            conn.execute(
                """INSERT INTO monitoring_alerts (alert_type, severity, message, fingerprint,
                                                  status)
                   VALUES ('error_rate', %s, %s, %s, %s)""",
                (severity, f"{severity} alert", f"error_rate:{severity}", state),
            )
    for seconds, outcome in ((10.0, "succeeded"), (20.0, "succeeded"), (30.0, "failed")):
        metrics.record(TASK_FINISHED_METRIC, seconds, "Seconds", {"outcome": outcome})


def test_dashboard_counts_tasks_errors_cost_alerts_in_the_window(database: str) -> None:
    _populate()
    board = dashboard(24)

    tasks = board.tasks
    assert (tasks.succeeded, tasks.failed, tasks.dead, tasks.running, tasks.queued) == (
        3,
        1,
        1,
        1,
        1,
    )
    assert board.error_rate == pytest.approx(2 / 5)
    assert board.error_rate_threshold == 0.1
    assert board.error_rate_alert

    by_model = {u.model: u for u in board.usage}
    assert set(by_model) == {"claude-sonnet", "claude-haiku"}  # opus finished too long ago
    sonnet = by_model["claude-sonnet"]
    assert (sonnet.tasks, sonnet.input_tokens, sonnet.output_tokens) == (3, 1600, 300)
    assert sonnet.cost_usd == pytest.approx(0.875)  # the running task's cost so far counts
    assert by_model["claude-haiku"].cost_usd == pytest.approx(0.015)
    assert board.cost_usd == pytest.approx(0.89)
    assert board.usage[0].model == "claude-sonnet"  # the costliest first

    assert board.durations.attempts == 3
    assert board.durations.failed_attempts == 1
    assert board.durations.mean_seconds == pytest.approx(20.0)
    assert board.durations.longest_seconds == pytest.approx(30.0)

    assert board.workflows == {"running": 1, "succeeded": 1, "failed": 1}
    assert board.open_alerts == 2
    assert [a.severity for a in board.alerts] == ["critical", "warning"]  # most severe first
    # Without Slack, a model server or an AWS endpoint, those checks are skipped, not failing.
    assert [(c.name, c.state) for c in board.health] == [
        ("database", "ok"),
        ("model_api", "skipped"),
        ("step_functions", "skipped"),
        ("orchestrator", "ok"),
        ("slack", "skipped"),
    ]
    assert board.healthy

    data = board.to_dict()
    assert data["error_rate_alert"] is True
    assert data["tasks"]["dead"] == 1

    # Only failed and dead tasks two days back: a week's window takes in the old success.
    week = dashboard(24 * 7)
    assert week.tasks.succeeded == 4
    assert week.error_rate == pytest.approx(2 / 6)
    assert {u.model for u in week.usage} == {"claude-sonnet", "claude-haiku", "claude-opus"}


def test_the_scripted_models_usage_is_labelled_scripted_wherever_it_is_shown(
    database: str,
) -> None:
    from autodev.cli.monitor import show
    from autodev.cli.output import console
    from autodev.slack.dashboards import monitor, monitor_text

    _run("succeeded", model="claude-sonnet", tokens=(1000, 200), cost=0.25)
    _run("succeeded", model="claude-sonnet", tokens=(800, 100), cost=0.5, provider="scripted")
    board = dashboard(24)
    labels = {u.label: u for u in board.usage}
    assert set(labels) == {"claude-sonnet", "claude-sonnet (scripted)"}
    assert labels["claude-sonnet (scripted)"].cost_usd == pytest.approx(0.5)
    assert board.scripted_cost_usd == pytest.approx(0.5)
    assert board.to_dict()["scripted_cost_usd"] == pytest.approx(0.5)

    slack = json.dumps([block.to_dict() for block in monitor(board)])
    assert "claude-sonnet (scripted)" in slack
    assert "($0.50 of it scripted)" in slack
    assert "nothing was billed" in slack
    with console.capture() as captured:
        show(board)
    shown = captured.get()
    assert "claude-sonnet (scripted)" in shown
    assert "$0.5000 of it scripted" in shown
    assert "nothing was billed" in shown
    assert "(scripted)" not in monitor_text(board)  # real usage is in the window too


def test_the_error_rate_flag_follows_the_configured_threshold(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run("succeeded")
    _run("failed")
    monkeypatch.setenv("ALERT_ERROR_RATE_THRESHOLD", "0.5")
    get_settings.cache_clear()
    board = dashboard()
    assert board.error_rate == pytest.approx(0.5)
    assert not board.error_rate_alert  # at the threshold is not above it
    monkeypatch.setenv("ALERT_ERROR_RATE_THRESHOLD", "0.49")
    get_settings.cache_clear()
    assert dashboard().error_rate_alert


def test_an_empty_window_has_no_error_rate(database: str) -> None:
    board = dashboard(1)
    assert board.error_rate is None
    assert not board.error_rate_alert
    assert board.usage == ()
    assert board.open_alerts == 0


def test_a_failing_health_check_is_reported_not_raised(database: str) -> None:
    def disk() -> bool:
        raise RuntimeError("disk full\nsecond line with more detail")

    register_health_check("disk", disk)
    register_health_check("api", lambda: Health(True, "200 OK"))
    try:
        board = dashboard()
    finally:
        unregister_health_check("disk")
        unregister_health_check("api")
    checks = {c.name: c for c in board.health}
    assert checks["database"].healthy
    assert checks["database"].detail.startswith("PostgreSQL ")
    assert (checks["api"].healthy, checks["api"].detail) == (True, "200 OK")
    assert not checks["disk"].healthy
    assert checks["disk"].detail == "RuntimeError: disk full"
    assert not board.healthy
    assert [c.name for c in run_health_checks()] == BUILT_IN


def test_with_the_database_down_its_check_fails_and_the_dashboard_says_why(
    absent_database: Path,
) -> None:
    checks = {check.name: check for check in run_health_checks()}
    assert checks["database"].state == "failing"
    assert checks["database"].detail.startswith("unavailable: ")
    # What needs the database is not asked, and says why.
    assert checks["orchestrator"].state == "failing"
    assert checks["orchestrator"].detail == "not checked: database is failing"
    board = dashboard()
    assert board.unavailable is not None
    assert board.unavailable.startswith("the database is unavailable: ")
    assert not board.healthy
    assert board.tasks.finished == 0


BUILT_IN = ["database", "model_api", "step_functions", "orchestrator", "slack"]


@pytest.mark.parametrize("hours", [0, -1, 24 * 365])
def test_a_bad_window_is_refused(hours: float) -> None:
    with pytest.raises(InvalidInput, match="window"):
        dashboard(hours)
