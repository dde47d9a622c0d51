"""`autodev monitor` on a real Postgres: the dashboard as tables and as JSON."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from autodev.cli import app
from autodev.db import connection
from autodev.orchestrator import queue
from autodev.orchestrator.queue import TaskSpec

WORKER = "host-9-cli"


def _finish(ok: bool, cost: float) -> None:
    task_id = queue.submit_task(TaskSpec(task_type="analysis", prompt="p", max_attempts=1))
    assert queue.claim_next(WORKER, 60) is not None
    with connection() as conn:
        queue.record_usage(
            conn,
            task_id,
            model="claude-sonnet-4-5",
            model_provider="scripted",
            input_tokens=1200,
            output_tokens=300,
            cache_read_tokens=0,
            cache_creation_tokens=0,
            cost_usd=cost,
            turns=2,
        )
    if ok:
        assert queue.complete_task(task_id, WORKER, {})
    else:
        assert queue.fail_task(task_id, WORKER, "no org", retryable=False) is not None


def test_monitor_prints_the_dashboard(database: str) -> None:
    _finish(True, 0.5)
    _finish(False, 0.25)

    shown = CliRunner().invoke(app, ["monitor", "--hours", "2"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "last 2h" in shown.output
    assert "50.0%" in shown.output  # the error rate
    assert "ALERT: error rate 50.0% is above the threshold 10%" in shown.output
    assert "claude-sonnet-4-5" in shown.output
    assert "0.7500" in shown.output  # the cost by model
    assert "2,400" in shown.output  # input tokens
    assert "database" in shown.output
    assert "FAILING" not in shown.output
    assert "no workflows in the window" in shown.output
    assert "no open alerts" in shown.output

    as_json = CliRunner().invoke(app, ["monitor", "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["window_hours"] == 24
    assert (data["tasks"]["succeeded"], data["tasks"]["failed"]) == (1, 1)
    assert data["error_rate"] == 0.5
    assert data["error_rate_alert"] is True
    assert data["cost_usd"] == 0.75
    assert data["healthy"] is True


def test_monitor_refuses_a_bad_window() -> None:
    refused = CliRunner().invoke(app, ["monitor", "--hours", "0"])
    assert refused.exit_code == 2
    assert "--hours" in refused.output
