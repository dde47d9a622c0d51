"""`autodev monitor` on a real Postgres: the dashboard as tables and as JSON."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from autodev.cli import app
from tests.integration.finished_tasks import finish_task

WORKER = "host-9-cli"


def _finish(ok: bool, cost: float) -> None:
    finish_task(
        "succeeded" if ok else "failed",
        worker=WORKER,
        model="claude-sonnet-4-5",
        tokens=(1200, 300),
        cost=cost,
        error="no org",
    )


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
